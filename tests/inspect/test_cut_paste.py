"""Cut-paste defects: pixels outside the new mask untouched, inside a turned / mirrored copy of the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from inspect_helpers import OBJECT

from defect_core.datasets import open_dataset
from defect_core.masks import erode, mask_bbox
from defect_inspect import cut_paste, read_generation_output, write_cut_paste_set
from defect_inspect.data.real import normal_items, real_defect_items


def _transforms(patch: np.ndarray) -> list[np.ndarray]:
    turned = [np.rot90(patch, k) for k in range(4)]
    return turned + [t[:, ::-1] for t in turned]


@pytest.mark.parametrize("seed", range(6))
def test_cut_paste_copies_the_masked_pixels_and_nothing_else(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    normal = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    source = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    source_mask = np.zeros((40, 48), dtype=bool)
    source_mask[5:12, 30:41] = True
    source_mask[5:8, 30:33] = False  # not a plain rectangle: the orientation is visible
    image, mask = cut_paste(source, source_mask, normal, np.random.default_rng(seed))
    assert image.shape == normal.shape and image.dtype == np.uint8 and mask.shape == (40, 48)
    assert mask.sum() == source_mask.sum()
    np.testing.assert_array_equal(image[~mask], normal[~mask])
    y0, x0, y1, x1 = mask_bbox(mask)
    sy0, sx0, sy1, sx1 = mask_bbox(source_mask)
    pasted, pasted_mask = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    candidates = zip(
        _transforms(source[sy0:sy1, sx0:sx1]), _transforms(source_mask[sy0:sy1, sx0:sx1]), strict=True
    )
    assert any(
        t_mask.shape == pasted_mask.shape
        and np.array_equal(t_mask, pasted_mask)
        and np.array_equal(t_image[t_mask], pasted[pasted_mask])
        for t_image, t_mask in candidates
    )


def test_cut_paste_resizes_a_source_of_another_size_and_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    normal = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    source = np.zeros((64, 64, 3), dtype=np.uint8)
    source_mask = np.zeros((64, 64), dtype=bool)
    source_mask[10:30, 10:30] = True
    source[source_mask] = 255
    image, mask = cut_paste(source, source_mask, normal, rng)
    assert mask.sum() == 100  # a 20 x 20 square at half size
    # bilinear resizing blends the square's rim with its black surrounding; its inside stays white
    assert (image[erode(mask, 2)] == 255).all()
    assert (image[mask] > 150).all()
    with pytest.raises(ValueError, match="empty"):
        cut_paste(source, np.zeros((64, 64), bool), normal, rng)
    with pytest.raises(ValueError, match="uint8"):
        cut_paste(source.astype(np.float32), source_mask, normal, rng)


def test_cut_paste_set_is_a_readable_generation_output(tmp_path: Path, synthetic_root: Path) -> None:
    reader = open_dataset("mvtec", synthetic_root)
    sources = real_defect_items(reader, OBJECT, "train", ["square"])
    normals = [i.image for i in normal_items(reader, OBJECT, "train")]
    items = write_cut_paste_set(sources, normals, tmp_path / "square", count=5, seed=0)
    assert len(items) == 5 and {i.source for i in items} == {"cut-paste"}
    again = read_generation_output(tmp_path / "square")
    assert [i.image for i in again] == [i.image for i in items]
    assert {i.label for i in again} == {"square"}
    assert (tmp_path / "square" / "preview.png").is_file()
    lines = (tmp_path / "square" / "cut_paste.jsonl").read_text().splitlines()
    assert len(lines) == 5
    with pytest.raises(ValueError, match="one type"):
        write_cut_paste_set(real_defect_items(reader, OBJECT, "train"), normals, tmp_path / "mixed", count=2)
