"""VisA reader through ``split_csv/1cls.csv``, on files written by the test (format of the official file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from defect_core.datasets import VisaReader, create_reader
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError
from defect_core.images import load_mask

HEADER = "object,split,label,image,mask\n"


def write_csv(root: Path, lines: list[str]) -> Path:
    path = root / "split_csv" / "1cls.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def normal(root: Path, files, obj: str, split: str, name: str) -> str:
    rel = f"{obj}/Data/Images/Normal/{name}"
    files.image(root / rel)
    return f"{obj},{split},normal,{rel},"


def anomaly(root: Path, files, obj: str, stem: str, **mask_kwargs) -> str:
    image, mask = f"{obj}/Data/Images/Anomaly/{stem}.JPG", f"{obj}/Data/Masks/Anomaly/{stem}.png"
    files.image(root / image)
    # VisA masks hold small label values, not 255
    files.mask(root / mask, **{"value": 1, **mask_kwargs})
    return f"{obj},test,anomaly,{image},{mask}"


@pytest.fixture
def visa(tmp_path: Path, files) -> Path:
    root = tmp_path / "visa"
    write_csv(
        root,
        [
            normal(root, files, "candle", "train", "0002.JPG"),
            normal(root, files, "candle", "train", "0001.JPG"),
            normal(root, files, "candle", "test", "0003.JPG"),
            anomaly(root, files, "candle", "002"),
            anomaly(root, files, "candle", "000"),
            anomaly(root, files, "candle", "001"),
            normal(root, files, "pcb1", "train", "0001.JPG"),
        ],
    )
    return root


def test_objects_defects_and_normals(visa: Path) -> None:
    reader = create_reader("visa", visa)
    assert isinstance(reader, VisaReader)
    assert reader.object_names() == ["candle", "pcb1"]
    assert reader.defect_names("candle") == ["anomaly"]
    assert reader.defect_names("pcb1") == []
    images = visa / "candle/Data/Images/Normal"
    assert reader.normal_images("candle") == [images / "0001.JPG", images / "0002.JPG"]
    assert reader.normal_images("candle", split="test") == [images / "0003.JPG"]
    assert reader.normal_images("pcb1", split="test") == []


def test_defect_examples_sorted_and_small_label_masks_count(visa: Path) -> None:
    examples = VisaReader(visa).defect_examples("candle", "anomaly")
    assert examples == [
        DefectExample(
            visa / f"candle/Data/Images/Anomaly/{stem}.JPG",
            visa / f"candle/Data/Masks/Anomaly/{stem}.png",
            "candle",
            "anomaly",
            mask_threshold=1,
        )
        for stem in ("000", "001", "002")
    ]
    # the masks hold the value 1: only a threshold of 1 sees their defect
    assert VisaReader.mask_threshold == 1
    assert all(example.load_mask().any() for example in examples)
    assert load_mask(examples[0].mask, threshold=1).sum() == 16
    assert load_mask(examples[0].mask).sum() == 0


def test_defect_name_can_be_given(visa: Path) -> None:
    reader = VisaReader(visa, defect_name="defect")
    assert reader.defect_names("candle") == ["defect"]
    assert {e.defect_name for e in reader.defect_examples("candle", "defect")} == {"defect"}
    with pytest.raises(
        ValueError, match=re.escape("unknown defect 'anomaly' for object 'candle'; available: defect")
    ):
        reader.defect_examples("candle", "anomaly")
    with pytest.raises(ValueError, match="defect_name"):
        VisaReader(visa, defect_name=" ")


def test_unknown_names(visa: Path) -> None:
    reader = VisaReader(visa)
    with pytest.raises(ValueError, match=re.escape("unknown object 'bottle'") + r".*available: candle, pcb1"):
        reader.defect_examples("bottle", "anomaly")
    with pytest.raises(
        ValueError, match=re.escape("unknown defect 'anomaly' for object 'pcb1'; available: (none)")
    ):
        reader.defect_examples("pcb1", "anomaly")


def test_split_file_elsewhere(visa: Path, tmp_path: Path) -> None:
    moved = tmp_path / "my_split.csv"
    (visa / "split_csv" / "1cls.csv").rename(moved)
    with pytest.raises(InputFileError, match="split file does not exist"):
        VisaReader(visa)
    # paths in the file stay relative to the dataset root, not to the file
    assert len(VisaReader(visa, split_file=moved).defect_examples("candle", "anomaly")) == 3


def test_one_error_lists_every_bad_pair(tmp_path: Path, files) -> None:
    root = tmp_path / "visa"
    a = "candle/Data/Images/Anomaly"
    m = "candle/Data/Masks/Anomaly"
    lines = [anomaly(root, files, "candle", "000")]  # the one good pair
    lines.append(anomaly(root, files, "candle", "001"))
    (root / m / "001.png").unlink()  # missing mask
    lines.append(anomaly(root, files, "candle", "002", size=(16, 12)))  # size mismatch
    lines.append(anomaly(root, files, "candle", "003", box=None))  # empty mask
    lines.append(anomaly(root, files, "candle", "004"))
    files.corrupt(root / m / "004.png")  # corrupt mask
    lines.append(anomaly(root, files, "candle", "005"))
    (root / a / "005.JPG").unlink()  # image listed but absent
    files.image(root / a / "006.JPG")
    lines.append(f"candle,test,anomaly,{a}/006.JPG,")  # anomaly row without a mask
    csv_path = write_csv(root, lines)

    with pytest.raises(DatasetError) as info:
        VisaReader(root).defect_examples("candle", "anomaly")
    got = [(p.path, p.problem) for p in info.value.problems]
    assert [path for path, _ in got] == [
        csv_path,
        root / m / "001.png",
        root / m / "002.png",
        root / m / "003.png",
        root / m / "004.png",
        root / a / "005.JPG",
    ]
    assert got[0][1] == "line 8: anomaly image 006.JPG has no mask"
    assert "missing" in got[1][1]
    assert "16x12" in got[2][1] and "16x16" in got[2][1]
    assert "empty" in got[3][1] and ">= 1)" in got[3][1]
    assert "cannot be read" in got[4][1]
    assert "does not exist" in got[5][1]
    message = str(info.value)
    assert "6 problem(s)" in message
    for path, _ in got:
        assert str(path) in message


def test_malformed_split_file(tmp_path: Path) -> None:
    root = tmp_path / "visa"
    path = root / "split_csv" / "1cls.csv"
    path.parent.mkdir(parents=True)
    path.write_text("object,split,label,image\ncandle,train,normal,x.JPG\n")
    with pytest.raises(InputFileError, match="missing column\\(s\\) mask") as info:
        VisaReader(root)
    assert info.value.path == path

    path.write_text(
        HEADER + "candle,val,normal,x.JPG,\ncandle,test,broken,y.JPG,\ncandle,test,normal,z.JPG,\n"
    )
    with pytest.raises(DatasetError) as info:
        VisaReader(root)
    assert [(p.path, p.problem) for p in info.value.problems] == [
        (path, "line 2: split 'val' is not one of train, test"),
        (path, "line 3: label 'broken' is not one of normal, anomaly"),
    ]


def test_defectfill_protocol_on_visa_is_the_first_ten_pairs(tmp_path: Path, files) -> None:
    """DefectFill (appendix B.2) learns a VisA object from its first 10 anomaly / mask pairs by file name."""
    from defect_core.datasets import MVTecReader
    from defect_core.datasets.splits import resolve_split_rule, select_split

    root = tmp_path / "visa"
    stems = [f"{i:03d}" for i in range(14)]
    write_csv(root, [anomaly(root, files, "candle", s) for s in reversed(stems)])
    reader = create_reader("visa", root)
    assert reader.split_rule == "first-10" and MVTecReader.split_rule == "first-third"
    examples = reader.defect_examples("candle", "anomaly")
    rule = resolve_split_rule("auto", reader.split_rule)
    assert [e.image.stem for e in select_split(examples, "train", rule)] == stems[:10]
    assert [e.image.stem for e in select_split(examples, "held_out", rule)] == stems[10:]
    # the AnomalyDiffusion rule stays available
    rule = resolve_split_rule("first-third", reader.split_rule)
    assert [e.image.stem for e in select_split(examples, "train", rule)] == stems[:4]
