"""MVTec AD reader, the reader registry and pair validation, on a layout written by the test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from defect_core.datasets import (
    MVTecReader,
    available_readers,
    create_reader,
    register_reader,
    validate_pairs,
)
from defect_core.datasets.base import DatasetReader
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError


@pytest.fixture
def mvtec(tmp_path: Path, files) -> Path:
    root = tmp_path / "mvtec"
    bottle = root / "bottle"
    for name in ("001.png", "000.png"):
        files.image(bottle / "train" / "good" / name)
    files.image(bottle / "test" / "good" / "000.png")
    # written out of order on purpose: the reader must sort
    for stem in ("002", "000", "001"):
        files.image(bottle / "test" / "broken_large" / f"{stem}.png")
        files.mask(bottle / "ground_truth" / "broken_large" / f"{stem}_mask.png")
    files.image(bottle / "test" / "broken_small" / "000.png")
    files.mask(bottle / "ground_truth" / "broken_small" / "000_mask.png")
    # an object with only a test folder still counts; a folder without train/ or test/ does not
    files.image(root / "cable" / "test" / "good" / "000.png")
    (root / "notes").mkdir()
    (root / "readme.txt").write_text("not an object")
    return root


def test_objects_defects_and_normals(mvtec: Path) -> None:
    reader = MVTecReader(mvtec)
    assert reader.object_names() == ["bottle", "cable"]
    assert reader.defect_names("bottle") == ["broken_large", "broken_small"]
    assert reader.defect_names("cable") == []
    assert reader.normal_images("bottle") == [
        mvtec / "bottle/train/good/000.png",
        mvtec / "bottle/train/good/001.png",
    ]
    assert reader.normal_images("bottle", split="test") == [mvtec / "bottle/test/good/000.png"]
    assert reader.normal_images("cable", split="train") == []


def test_defect_examples_sorted_with_masks(mvtec: Path) -> None:
    examples = MVTecReader(mvtec).defect_examples("bottle", "broken_large")
    expected = [
        DefectExample(
            mvtec / f"bottle/test/broken_large/{stem}.png",
            mvtec / f"bottle/ground_truth/broken_large/{stem}_mask.png",
            "bottle",
            "broken_large",
        )
        for stem in ("000", "001", "002")
    ]
    assert examples == expected


def test_unknown_names_list_the_available_ones(mvtec: Path) -> None:
    reader = MVTecReader(mvtec)
    with pytest.raises(
        ValueError,
        match=re.escape("unknown defect 'foo' for object 'bottle'; available: broken_large, broken_small"),
    ):
        reader.defect_examples("bottle", "foo")
    with pytest.raises(ValueError, match=re.escape("unknown object 'car'") + r".*available: bottle, cable"):
        reader.defect_names("car")
    with pytest.raises(ValueError, match="unknown object 'car'"):
        reader.normal_images("car")
    with pytest.raises(ValueError, match="split must be one of train, test; got 'val'"):
        reader.normal_images("bottle", split="val")
    # "good" holds normal images and is not a defect category
    with pytest.raises(ValueError, match="unknown defect 'good'"):
        reader.defect_examples("bottle", "good")


def test_missing_root_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist") as info:
        MVTecReader(tmp_path / "nowhere")
    assert info.value.path == tmp_path / "nowhere"


def test_one_error_lists_every_bad_pair(mvtec: Path, files) -> None:
    test, gt = mvtec / "bottle/test/bad", mvtec / "bottle/ground_truth/bad"
    files.image(test / "000.png")
    files.mask(gt / "000_mask.png")  # the one good pair
    files.image(test / "001.png")  # mask missing
    files.image(test / "002.png")
    files.mask(gt / "002_mask.png", size=(8, 16))  # size mismatch
    files.image(test / "003.png")
    files.mask(gt / "003_mask.png", box=None)  # empty
    files.corrupt(test / "004.png")  # corrupt image
    files.mask(gt / "004_mask.png")
    files.image(test / "005.png")
    files.corrupt(gt / "005_mask.png")  # corrupt mask

    with pytest.raises(DatasetError) as info:
        MVTecReader(mvtec).defect_examples("bottle", "bad")
    err = info.value
    assert err.root == mvtec
    got = [(p.path, p.problem) for p in err.problems]
    assert [path for path, _ in got] == [
        gt / "001_mask.png",
        gt / "002_mask.png",
        gt / "003_mask.png",
        test / "004.png",
        gt / "005_mask.png",
    ]
    assert "missing" in got[0][1]
    assert "8x16" in got[1][1] and "16x16" in got[1][1]
    assert "empty" in got[2][1]
    assert "cannot be read" in got[3][1]
    assert "cannot be read" in got[4][1]
    message = str(err)
    assert "5 problem(s)" in message
    for path, _ in got:
        assert str(path) in message
    # the good categories of the same object are unaffected
    assert len(MVTecReader(mvtec).defect_examples("bottle", "broken_small")) == 1


def test_validate_pairs_accepts_good_pairs_and_reports_no_mask(tmp_path: Path, files) -> None:
    image, mask = files.image(tmp_path / "a.png"), files.mask(tmp_path / "a_mask.png")
    validate_pairs([(image, mask)], tmp_path)  # no error
    lonely = files.image(tmp_path / "b.png")
    with pytest.raises(DatasetError) as info:
        validate_pairs([(image, mask), (lonely, None)], tmp_path)
    assert [(p.path, p.problem) for p in info.value.problems] == [(lonely, "has no mask file")]


def test_validate_pairs_threshold_decides_empty(tmp_path: Path, files) -> None:
    image = files.image(tmp_path / "a.png")
    mask = files.mask(tmp_path / "a_mask.png", value=1)  # a 0 / 1 mask
    validate_pairs([(image, mask)], tmp_path, mask_threshold=1)
    with pytest.raises(DatasetError, match="no gray value >= 128"):
        validate_pairs([(image, mask)], tmp_path)


def test_registry(mvtec: Path) -> None:
    assert available_readers() == ["defect-spectrum", "folder", "ksdd2", "mvtec", "visa"]
    reader = create_reader("mvtec", mvtec)
    assert isinstance(reader, MVTecReader)
    assert reader.kind == "mvtec"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "unknown dataset reader 'coco'; available: defect-spectrum, folder, ksdd2, mvtec, visa"
        ),
    ):
        create_reader("coco", mvtec)
    with pytest.raises(ValueError, match="already registered"):
        register_reader("mvtec")(type("Other", (MVTecReader,), {}))
    with pytest.raises(TypeError, match="DatasetReader subclass"):
        register_reader("thing")(dict)  # type: ignore[arg-type]
    assert available_readers() == ["defect-spectrum", "folder", "ksdd2", "mvtec", "visa"]
    assert issubclass(MVTecReader, DatasetReader)
