"""anomalib Folder export, file by file, and the pairing rule anomalib applies to it (sorted images with
sorted masks; the image stem must be in the mask stem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from export_cases import hand_case, write_generation
from PIL import Image

from defect_core.defect_example import DefectExample
from defect_core.exports import ExportConfig, ExportItem, ExportSource, export_source, run_export
from defect_core.exports.anomalib_folder import pairs_as_anomalib_sorts


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def anomalib_pairs(root: Path) -> list[tuple[str, str]]:
    """What anomalib's make_folder_dataset pairs: i-th sorted defect image with the i-th sorted mask."""
    images = sorted((root / "defect").iterdir())
    masks = sorted((root / "mask").iterdir())
    assert len(images) == len(masks)
    for image, mask in zip(images, masks, strict=True):
        assert image.stem in mask.stem
    return [(i.name, m.name) for i, m in zip(images, masks, strict=True)]


def test_generation_output_as_anomalib_folder(tmp_path: Path) -> None:
    case = hand_case()
    empty = np.zeros_like(case.labels)
    empty[0, 0] = 1
    source = write_generation(tmp_path / "gen", [case.labels, empty])
    summary = run_export(ExportConfig(format="anomalib", source=source, out=tmp_path / "an"))
    out = tmp_path / "an"
    assert files(out) == [
        "defect/item_000.png",
        "defect/item_001.png",
        "export_config.toml",
        "export_index.jsonl",
        "good/normal.png",
        "mask/item_000_mask.png",
        "mask/item_001_mask.png",
    ]
    assert (summary.images, summary.annotations, summary.normals) == (2, 2, 1)
    assert anomalib_pairs(out) == [
        ("item_000.png", "item_000_mask.png"),
        ("item_001.png", "item_001_mask.png"),
    ]
    for i, labels in enumerate([case.labels, empty]):
        mask = np.asarray(Image.open(out / "mask" / f"item_{i:03d}_mask.png"))
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask == 255, labels > 0)  # the union of the classes
        stem = f"item_{i:03d}.png"
        assert (out / "defect" / stem).read_bytes() == (source / "defect" / stem).read_bytes()
    assert (out / "good" / "normal.png").read_bytes() == (tmp_path / "normals" / "normal.png").read_bytes()


def test_no_normals_leaves_out_good(tmp_path: Path) -> None:
    source = write_generation(tmp_path / "gen", [hand_case().labels])
    (tmp_path / "normals" / "normal.png").unlink()  # the source images are not on this machine
    summary = run_export(ExportConfig(format="anomalib", source=source, out=tmp_path / "an", normals=False))
    assert summary.normals == 0 and not (tmp_path / "an" / "good").exists()


def test_stems_that_anomalib_would_mispair_are_numbered(tmp_path: Path) -> None:
    # "a1" < "a10" but "a10_mask" < "a1_mask": anomalib would pair a1 with a10's mask
    assert not pairs_as_anomalib_sorts(["a1.png", "a10.png"])
    assert pairs_as_anomalib_sorts(["a01.png", "a10.png", "b.jpg"])
    items = []
    for stem, size in (("a1", 3), ("a10", 5)):
        image, mask = tmp_path / "src" / f"{stem}.png", tmp_path / "src" / f"{stem}_m.png"
        image.parent.mkdir(exist_ok=True)
        Image.new("RGB", (size, size)).save(image)
        Image.fromarray(np.full((size, size), 255, dtype=np.uint8)).save(mask)
        items.append(ExportItem(stem, DefectExample(image, mask, "obj", "dent")))
    export_source(ExportSource(tmp_path / "src", tuple(items)), "anomalib", tmp_path / "an")
    assert anomalib_pairs(tmp_path / "an") == [("000.png", "000_mask.png"), ("001.png", "001_mask.png")]
    assert Image.open(tmp_path / "an" / "mask" / "001_mask.png").size == (5, 5)  # a10's
    index = (tmp_path / "an" / "export_index.jsonl").read_text().splitlines()
    assert '"stem": "a10", "image": "defect/001.png"' in index[1]
