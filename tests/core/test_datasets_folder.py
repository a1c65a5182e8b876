"""Generic folder reader: ``images/`` + ``masks/`` (+ ``good/``), names given by the caller."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from defect_core.datasets import FolderReader, create_reader
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError


@pytest.fixture
def folder(tmp_path: Path, files) -> Path:
    root = tmp_path / "scratches"
    files.image(root / "images" / "c.png")
    files.mask(root / "masks" / "c.bmp")  # any image suffix
    files.image(root / "images" / "a.png")
    files.mask(root / "masks" / "a.png")
    files.image(root / "images" / "b.jpg")
    files.mask(root / "masks" / "b_mask.png")  # the "_mask" form
    (root / "images" / "notes.txt").write_text("not an image")
    files.image(root / "good" / "2.png")
    files.image(root / "good" / "1.png")
    return root


def test_pairs_by_stem_sorted(folder: Path) -> None:
    reader = create_reader("folder", folder, object_name="tile", defect_name="crack")
    assert isinstance(reader, FolderReader)
    assert reader.object_names() == ["tile"]
    assert reader.defect_names("tile") == ["crack"]
    assert reader.defect_examples("tile", "crack") == [
        DefectExample(folder / "images/a.png", folder / "masks/a.png", "tile", "crack"),
        DefectExample(folder / "images/b.jpg", folder / "masks/b_mask.png", "tile", "crack"),
        DefectExample(folder / "images/c.png", folder / "masks/c.bmp", "tile", "crack"),
    ]


def test_normal_images(folder: Path, tmp_path: Path, files) -> None:
    reader = FolderReader(folder, object_name="tile", defect_name="crack")
    good = [folder / "good/1.png", folder / "good/2.png"]
    # a plain folder has no split: both splits see good/
    assert reader.normal_images("tile") == good
    assert reader.normal_images("tile", split="test") == good
    bare = tmp_path / "bare"
    files.image(bare / "images" / "a.png")
    assert FolderReader(bare, object_name="tile", defect_name="crack").normal_images("tile") == []


def test_names_are_required_and_checked(folder: Path) -> None:
    reader = FolderReader(folder, object_name="tile", defect_name="crack")
    with pytest.raises(
        ValueError, match=re.escape("unknown defect 'dent' for object 'tile'; available: crack")
    ):
        reader.defect_examples("tile", "dent")
    with pytest.raises(ValueError, match=re.escape(f"unknown object 'wood' in {folder}; available: tile")):
        reader.defect_names("wood")
    with pytest.raises(ValueError, match="object_name must be a non-empty name"):
        FolderReader(folder, object_name="", defect_name="crack")
    with pytest.raises(ValueError, match="mask_threshold must be in 0..255"):
        FolderReader(folder, object_name="tile", defect_name="crack", mask_threshold=256)


def test_missing_images_folder_names_it(tmp_path: Path) -> None:
    tmp_path.joinpath("empty").mkdir()
    reader = FolderReader(tmp_path / "empty", object_name="tile", defect_name="crack")
    with pytest.raises(InputFileError, match="folder does not exist") as info:
        reader.defect_examples("tile", "crack")
    assert info.value.path == tmp_path / "empty" / "images"


def test_one_error_lists_every_bad_pair(folder: Path, files) -> None:
    images, masks = folder / "images", folder / "masks"
    files.image(images / "d.png")  # no mask at all
    files.image(images / "e.png")
    files.mask(masks / "e.png")
    files.mask(masks / "e_mask.png")  # two candidates
    files.image(images / "f.png", size=(16, 20))
    files.mask(masks / "f.png")  # size mismatch
    files.image(images / "g.png")
    files.mask(masks / "g.png", box=None)  # empty
    files.corrupt(images / "h.png")  # corrupt image
    files.mask(masks / "h.png")
    files.image(images / "i.png")
    files.corrupt(masks / "i_mask.png")  # corrupt mask

    with pytest.raises(DatasetError) as info:
        FolderReader(folder, object_name="tile", defect_name="crack").defect_examples("tile", "crack")
    got = [(p.path, p.problem) for p in info.value.problems]
    assert got[0] == (images / "d.png", "has no mask: looked for masks/d.* and masks/d_mask.*")
    assert got[1] == (images / "e.png", "has several masks (e.png, e_mask.png); keep one")
    assert [path for path, _ in got[2:]] == [
        masks / "f.png",
        masks / "g.png",
        images / "h.png",
        masks / "i_mask.png",
    ]
    assert "16x16" in got[2][1] and "16x20" in got[2][1]
    assert "empty" in got[3][1]
    assert "cannot be read" in got[4][1]
    assert "cannot be read" in got[5][1]
    message = str(info.value)
    assert "6 problem(s)" in message
    for path, _ in got:
        assert str(path) in message


def test_mask_threshold_for_zero_one_masks(tmp_path: Path, files) -> None:
    root = tmp_path / "binary"
    files.image(root / "images" / "a.png")
    files.mask(root / "masks" / "a.png", value=1)
    with pytest.raises(DatasetError, match="no gray value >= 128"):
        FolderReader(root, object_name="tile", defect_name="crack").defect_examples("tile", "crack")
    reader = FolderReader(root, object_name="tile", defect_name="crack", mask_threshold=1)
    assert len(reader.defect_examples("tile", "crack")) == 1
