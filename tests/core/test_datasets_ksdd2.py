"""KolektorSDD2 reader: images sorted into defects and normals by their ``_GT`` files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from defect_core.datasets import KSDD2Reader, create_reader
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError


@pytest.fixture
def ksdd2(tmp_path: Path, files) -> Path:
    root = tmp_path / "ksdd2"
    # KSDD2 images are taller than wide; keep that shape to catch a width / height swap
    size = (12, 16)
    # name -> ground truth: None is all zero (normal); otherwise the mask value (255 or 1 style)
    layout = {
        "train": {"10003": 255, "10000": None, "10002": 1, "10001": None},
        "test": {"20001": None, "20000": 255},
    }
    for split, entries in layout.items():
        for name, value in entries.items():
            files.image(root / split / f"{name}.png", size=size)
            if value is None:
                files.mask(root / split / f"{name}_GT.png", size=size, box=None)
            else:
                files.mask(root / split / f"{name}_GT.png", size=size, value=value)
    return root


def example(root: Path, split: str, name: str, obj: str = "ksdd2", defect: str = "defect") -> DefectExample:
    return DefectExample(
        root / split / f"{name}.png", root / split / f"{name}_GT.png", obj, defect, mask_threshold=1
    )


def test_defects_and_normals(ksdd2: Path) -> None:
    reader = create_reader("ksdd2", ksdd2)
    assert isinstance(reader, KSDD2Reader)
    assert reader.object_names() == ["ksdd2"]
    assert reader.defect_names("ksdd2") == ["defect"]
    # 0 / 1 and 0 / 255 ground truths are both defects
    assert reader.defect_examples("ksdd2", "defect") == [
        example(ksdd2, "train", n) for n in ("10002", "10003")
    ]
    assert reader.normal_images("ksdd2") == [ksdd2 / "train/10000.png", ksdd2 / "train/10001.png"]
    assert reader.normal_images("ksdd2", split="test") == [ksdd2 / "test/20001.png"]


def test_defect_split(ksdd2: Path) -> None:
    test = KSDD2Reader(ksdd2, defect_split="test")
    assert test.defect_examples("ksdd2", "defect") == [example(ksdd2, "test", "20000")]
    every = KSDD2Reader(ksdd2, defect_split="all")
    assert every.defect_examples("ksdd2", "defect") == [
        example(ksdd2, "train", "10002"),
        example(ksdd2, "train", "10003"),
        example(ksdd2, "test", "20000"),
    ]
    with pytest.raises(ValueError, match="defect_split must be one of train, test, all; got 'val'"):
        KSDD2Reader(ksdd2, defect_split="val")


def test_names_can_be_given(ksdd2: Path) -> None:
    reader = KSDD2Reader(ksdd2, object_name="commutator", defect_name="crack")
    assert reader.defect_examples("commutator", "crack") == [
        example(ksdd2, "train", n, "commutator", "crack") for n in ("10002", "10003")
    ]
    with pytest.raises(ValueError, match=re.escape("unknown object 'ksdd2'") + ".*available: commutator"):
        reader.normal_images("ksdd2")
    with pytest.raises(
        ValueError, match=re.escape("unknown defect 'defect' for object 'commutator'; available: crack")
    ):
        reader.defect_examples("commutator", "defect")


def test_missing_split_folder_is_empty(ksdd2: Path) -> None:
    for path in (ksdd2 / "test").iterdir():
        path.unlink()
    (ksdd2 / "test").rmdir()
    reader = KSDD2Reader(ksdd2, defect_split="test")
    assert reader.normal_images("ksdd2", split="test") == []
    assert reader.defect_examples("ksdd2", "defect") == []


def test_one_error_lists_every_bad_file(ksdd2: Path, files) -> None:
    train = ksdd2 / "train"
    files.image(train / "10010.png", size=(12, 16))  # ground truth missing
    files.image(train / "10011.png", size=(12, 16))
    files.corrupt(train / "10011_GT.png")  # corrupt ground truth
    files.corrupt(train / "10012.png")  # corrupt image of a defect
    files.mask(train / "10012_GT.png", size=(12, 16))
    files.image(train / "10013.png", size=(12, 16))
    files.mask(train / "10013_GT.png", size=(16, 12))  # ground truth transposed

    reader = KSDD2Reader(ksdd2)
    with pytest.raises(DatasetError) as info:
        reader.defect_examples("ksdd2", "defect")
    got = [(p.path, p.problem) for p in info.value.problems]
    assert [path for path, _ in got] == [
        train / "10010_GT.png",
        train / "10011_GT.png",
        train / "10012.png",
        train / "10013_GT.png",
    ]
    assert "missing" in got[0][1]
    assert "cannot be read" in got[1][1]
    assert "cannot be read" in got[2][1]
    assert "16x12" in got[3][1] and "12x16" in got[3][1]
    message = str(info.value)
    assert "4 problem(s)" in message
    for path, _ in got:
        assert str(path) in message
    # an all-zero ground truth is a normal image, not a problem; unreadable ones are not normals
    assert reader.normal_images("ksdd2") == [train / "10000.png", train / "10001.png"]


# -- the two protocols: DefectFill's first third of train/, DIAG's official split ----------------------------


@pytest.fixture
def ksdd2_download(ksdd2: Path, files) -> Path:
    """The fixture with the official download's stray duplicate pair in train/ (a copy of a defect image and
    its ground truth, whose name does not end in _GT)."""
    files.image(ksdd2 / "train" / "10301.png", size=(12, 16))
    files.mask(ksdd2 / "train" / "10301_GT.png", size=(12, 16))
    files.image(ksdd2 / "train" / "10301 (copy).png", size=(12, 16))
    files.mask(ksdd2 / "train" / "10301_GT (copy).png", size=(12, 16))
    return ksdd2


def test_duplicate_pair_is_skipped_with_a_warning(ksdd2_download: Path, caplog) -> None:
    root = ksdd2_download
    reader = KSDD2Reader(root)
    with caplog.at_level("WARNING", logger="defect_core.datasets.ksdd2"):
        # without the skip, both copies would be "images" whose _GT file is missing: a DatasetError
        defects = reader.defect_examples("ksdd2", "defect")
    assert defects == [example(root, "train", n) for n in ("10002", "10003", "10301")]
    assert reader.normal_images("ksdd2") == [root / "train/10000.png", root / "train/10001.png"]
    skipped = [r.getMessage() for r in caplog.records if "duplicate copy" in r.getMessage()]
    assert len(skipped) == 2
    assert str(root / "train" / "10301 (copy).png") in skipped[0] + skipped[1]
    assert str(root / "train" / "10301_GT (copy).png") in skipped[0] + skipped[1]


def test_official_test_split(ksdd2_download: Path) -> None:
    from defect_core.datasets.split_selection import select_real_examples

    root = ksdd2_download
    reader = KSDD2Reader(root)
    assert reader.official_test_split
    # DIAG: the test/ folder, whatever defect_split the reader was opened with
    assert reader.official_test_examples("ksdd2", "defect") == [example(root, "test", "20000")]
    assert KSDD2Reader(root, defect_split="all").official_test_examples("ksdd2", "defect") == [
        example(root, "test", "20000")
    ]
    train_positives = [example(root, "train", n) for n in ("10002", "10003", "10301")]
    # DIAG's --real-train all: every train positive; DefectFill: first third (3 // 3 = 1) and the rest
    assert select_real_examples(reader, "ksdd2", "defect", "all") == train_positives
    assert select_real_examples(reader, "ksdd2", "defect", "train") == train_positives[:1]
    assert select_real_examples(reader, "ksdd2", "defect", "held_out") == train_positives[1:]
    assert select_real_examples(reader, "ksdd2", "defect", "test") == [example(root, "test", "20000")]
    with pytest.raises(ValueError, match="split must be one of train, held_out, all, test; got 'val'"):
        select_real_examples(reader, "ksdd2", "defect", "val")


def test_only_ksdd2_has_an_official_test_split(tmp_path: Path, files) -> None:
    from dataclasses import dataclass

    from defect_core.datasets import MVTecReader, has_official_test_split, require_test_split

    files.image(tmp_path / "mvtec" / "bottle" / "test" / "broken" / "000.png")
    files.mask(tmp_path / "mvtec" / "bottle" / "ground_truth" / "broken" / "000_mask.png")
    reader = MVTecReader(tmp_path / "mvtec")
    with pytest.raises(ValueError, match=r"no official test split .* datasets with one: ksdd2"):
        reader.official_test_examples("bottle", "broken")
    assert [k for k in ("demo", "folder", "ksdd2", "mvtec", "visa") if has_official_test_split(k)] == [
        "ksdd2"
    ]

    @dataclass
    class Config:
        dataset: str
        test_split: str

    require_test_split(Config("ksdd2", "test"))
    require_test_split(Config("mvtec", "held_out"))
    with pytest.raises(ValueError, match=r"Config.test_split='test': .*dataset 'mvtec' does not"):
        require_test_split(Config("mvtec", "test"))
