"""The surface-strips benchmark: only held-out-strip pixels, generator and test halves disjoint, MVTec layout,
byte-identical from one seed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from defect_core.builtin.surface_photos import HELD_OUT_FRACTION, held_out_boundary
from defect_core.builtin.surface_strips import strip_regions, strip_view, write_surface_strips
from defect_core.datasets import create_reader
from defect_core.datasets.splits import select_split


def test_regions_are_the_two_halves_of_the_held_out_strip() -> None:
    generator, test = strip_regions((512, 512))
    assert held_out_boundary(512) == 384 and HELD_OUT_FRACTION == 0.25
    assert generator == (0, 384, 256, 512) and test == (256, 384, 512, 512)


def test_a_view_only_holds_pixels_of_its_region() -> None:
    # a photograph whose pixels spell their own coordinates: R = row % 256, B = row // 256, G = column - 256
    rows, cols = np.mgrid[0:512, 0:512]
    photo = np.stack([rows % 256, np.clip(cols - 256, 0, 255), rows // 256], axis=-1).astype(np.uint8)
    rng = np.random.default_rng(0)
    for region in strip_regions((512, 512)):
        y0, x0, y1, x1 = region
        for _ in range(20):
            view = strip_view(photo, region, size=64, sides=(64, 64), rng=rng)  # no resampling at side 64
            row = view[..., 0].astype(int) + 256 * view[..., 2].astype(int)
            col = view[..., 1].astype(int) + 256
            assert row.min() >= y0 and row.max() < y1 and col.min() >= x0 and col.max() < x1


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_benchmark_layout_split_and_determinism(tmp_path: Path) -> None:
    kwargs = {
        "objects": ("gravel",),
        "defects": ("hole",),
        "pairs_per_defect": 6,
        "normals": 4,
        "test_normals": 2,
    }
    first = write_surface_strips(tmp_path / "a", **kwargs)
    second = write_surface_strips(tmp_path / "b", **kwargs)
    assert _digest(first) == _digest(second)
    reader = create_reader("mvtec", first)
    examples = reader.defect_examples("gravel", "hole")
    assert len(examples) == 6 and len(select_split(examples, "train")) == 2  # len // 3 learn from
    assert (
        len(reader.normal_images("gravel", "train")) == 4 and len(reader.normal_images("gravel", "test")) == 2
    )
    for example in examples:
        mask = example.load_mask()
        assert mask.shape == (64, 64) and mask.any() and not mask.all()
    description = json.loads((first / "dataset.json").read_text())
    assert description["objects"]["gravel"]["defects"]["hole"] == {"learn": 2, "held_out": 4}
    with pytest.raises(FileExistsError):
        write_surface_strips(first, **kwargs)
    with pytest.raises(ValueError, match="objects"):
        write_surface_strips(tmp_path / "c", objects=("marble",))
