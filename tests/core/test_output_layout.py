"""The generation output folder (DESIGN.md §3), as anomalib's Folder datamodule reads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.images import list_images, load_mask
from defect_core.manifest import read_manifest
from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord

H, W = 24, 32


def make_image(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8))


def make_mask(seed: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    y, x = np.random.default_rng(seed).integers(0, 16, 2)
    mask[y : y + 5, x : x + 9] = True
    return mask


def make_record(item_id: str, source: Path, scores: tuple[float, ...] = (0.3, 0.7)) -> SampleRecord:
    # image / mask / candidates are placeholders: the writer replaces them by the paths it writes
    return SampleRecord(
        item_id=item_id,
        image=Path("pending.png"),
        mask=Path("pending_mask.png"),
        source_image=source,
        mask_source="held-out",
        defect_name="scratch",
        seed=3,
        base_model="builtin:tiny",
        concept="bottle/scratch",
        scores=scores,
        candidate_index=int(np.argmax(scores)),
    )


@pytest.fixture
def normal(tmp_path: Path) -> Path:
    path = tmp_path / "good" / "000.png"
    path.parent.mkdir()
    make_image(99).save(path)
    return path


def relative_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_layout_matches_the_design(tmp_path: Path, normal: Path) -> None:
    out = tmp_path / "out"
    writer = GenerationWriter(out)
    cands = [make_image(10), make_image(11)]
    writer.write_item(make_record("bottle_scratch_0000", normal), cands[1], make_mask(0), candidates=cands)
    writer.write_item(make_record("bottle_scratch_0001", normal), make_image(2), make_mask(1))
    writer.write_preview(
        [(make_image(99), make_mask(0), cands[1]), (make_image(99), make_mask(1), make_image(2))]
    )

    # DESIGN.md §3: defect/<stem>.png, mask/<stem>.png, candidates/<stem>_<k>.png, manifest.jsonl, preview.png
    assert relative_files(out) == [
        "candidates/bottle_scratch_0000_0.png",
        "candidates/bottle_scratch_0000_1.png",
        "defect/bottle_scratch_0000.png",
        "defect/bottle_scratch_0001.png",
        "manifest.jsonl",
        "mask/bottle_scratch_0000.png",
        "mask/bottle_scratch_0001.png",
        "preview.png",
    ]
    with Image.open(out / "preview.png") as preview:
        assert preview.mode == "RGB" and preview.width > preview.height  # 3 columns, 2 rows


def test_written_files_hold_what_was_given(tmp_path: Path, normal: Path) -> None:
    writer = GenerationWriter(tmp_path / "out")
    image, mask, cands = make_image(1), make_mask(1), [make_image(5), make_image(6)]
    final = writer.write_item(make_record("a", normal), image, mask, candidates=cands)

    with Image.open(final.image) as im:
        np.testing.assert_array_equal(np.asarray(im), np.asarray(image))  # PNG: lossless
    for path, cand in zip(final.candidates, cands, strict=True):
        with Image.open(path) as im:
            np.testing.assert_array_equal(np.asarray(im), np.asarray(cand))
    # mask files are 8-bit, exactly 0 and 255
    with Image.open(final.mask) as im:
        assert im.mode == "L" and im.size == (W, H)
        pixels = np.asarray(im)
    assert set(np.unique(pixels).tolist()) == {0, 255}
    np.testing.assert_array_equal(pixels == 255, mask)
    np.testing.assert_array_equal(load_mask(final.mask), mask)


def test_manifest_records_the_written_paths(tmp_path: Path, normal: Path) -> None:
    out = tmp_path / "out"
    writer = GenerationWriter(out)
    final = writer.write_item(
        make_record("a", normal), make_image(1), make_mask(1), candidates=[make_image(2)]
    )
    assert final.image == out.resolve() / "defect" / "a.png"
    assert final.mask == out.resolve() / "mask" / "a.png"
    assert final.candidates == (out.resolve() / "candidates" / "a_0.png",)
    assert read_manifest(out / "manifest.jsonl") == [final] == writer.records()
    line = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
    assert (line["image"], line["mask"], line["source_image"]) == (
        "defect/a.png",
        "mask/a.png",
        "../good/000.png",
    )


def test_finished_item_ids(tmp_path: Path, normal: Path) -> None:
    out = tmp_path / "out"
    writer = GenerationWriter(out)
    assert writer.finished_item_ids() == set()
    for item in ("a", "b", "c"):
        writer.write_item(make_record(item, normal), make_image(1), make_mask(1))
    assert writer.finished_item_ids() == {"a", "b", "c"}
    # an item whose image was lost is not finished (it will be redone); a fresh writer on the folder agrees
    (out / "defect" / "b.png").unlink()
    assert GenerationWriter(out).finished_item_ids() == {"a", "c"}
    # an item whose files were written but whose record was not (crash before the append) is not finished
    make_image(3).save(out / "defect" / "d.png")
    Image.fromarray(np.zeros((H, W), np.uint8)).save(out / "mask" / "d.png")
    assert GenerationWriter(out).finished_item_ids() == {"a", "c"}


def test_rejects_mask_of_another_size_and_unsafe_ids(tmp_path: Path, normal: Path) -> None:
    writer = GenerationWriter(tmp_path / "out")
    with pytest.raises(ValueError, match="item a: mask"):
        writer.write_item(make_record("a", normal), make_image(1), np.zeros((H + 1, W), bool))
    for bad in ("../escape", "sub/dir", ".hidden"):
        with pytest.raises(ValueError, match="plain file stem"):
            writer.write_item(make_record(bad, normal), make_image(1), make_mask(1))
    assert relative_files(tmp_path / "out") == []
    assert not (tmp_path / "escape.png").exists()


def anomalib_folder_pairs(root: Path, abnormal_dir: str, mask_dir: str) -> list[tuple[Path, Path]]:
    """anomalib's ``make_folder_dataset`` pairing, re-stated: the abnormal images and the masks are each
    sorted, paired in order, and every image stem must be contained in its mask's stem."""
    images = list_images(root / abnormal_dir)
    masks = list_images(root / mask_dir)
    assert len(images) == len(masks)
    pairs = list(zip(images, masks, strict=True))
    assert all(image.stem in mask.stem for image, mask in pairs)
    return pairs


def test_anomalib_folder_compatibility(tmp_path: Path, normal: Path) -> None:
    out = tmp_path / "out"
    writer = GenerationWriter(out)
    # ids written out of order, with names whose sort order differs from the writing order
    for i, item in enumerate(("b_10", "a_2", "b_9", "a_10")):
        writer.write_item(make_record(item, normal), make_image(i), make_mask(i), candidates=[make_image(7)])
    pairs = anomalib_folder_pairs(out, "defect", "mask")
    assert [(image.stem, mask.stem) for image, mask in pairs] == [
        (s, s) for s in sorted(("b_10", "a_2", "b_9", "a_10"))
    ]
    for image, mask in pairs:
        with Image.open(image) as im, Image.open(mask) as mk:
            assert im.size == mk.size
    # nothing else sits in the folders anomalib reads
    assert {p.suffix for p in (out / "defect").iterdir()} == {".png"}
    assert {p.suffix for p in (out / "mask").iterdir()} == {".png"}
