"""Export sources (a dataset through its reader, a generation output folder), the export's class table,
bad input named file by file, and an output folder that appears whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_cases import example_source, hand_case, write_generation
from PIL import Image

from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError
from defect_core.exports import (
    ExportConfig,
    ExportItem,
    ExportSource,
    dataset_source,
    export_source,
    merged_class_table,
    run_export,
)


@pytest.fixture
def mvtec(tmp_path: Path, files) -> Path:
    root = tmp_path / "mvtec"
    for defect, box in (("broken", (2, 2, 6, 6)), ("crack", (8, 1, 9, 15))):
        files.image(root / f"bottle/test/{defect}/000.png")
        files.mask(root / f"bottle/ground_truth/{defect}/000_mask.png", box=box)
    files.image(root / "bottle/train/good/000.png")
    files.image(root / "bottle/train/good/001.png", seed=1)
    return root


def test_dataset_through_its_reader_with_object_and_defect_selection(mvtec: Path, tmp_path: Path) -> None:
    source = dataset_source("mvtec", mvtec, object_name="bottle", defects=["crack"])
    assert [item.stem for item in source.items] == ["crack_000"]
    assert source.normals == (mvtec / "bottle/train/good/000.png", mvtec / "bottle/train/good/001.png")

    summary = run_export(ExportConfig(format="coco", source=mvtec, dataset="mvtec", out=tmp_path / "all"))
    assert summary.classes == {1: "broken", 2: "crack"}  # binary items of two defects: the sorted names
    document = json.loads((tmp_path / "all" / "annotations.json").read_text())
    assert [i["file_name"] for i in document["images"]] == ["broken_000.png", "crack_000.png"]
    assert [(a["category_id"], a["area"], a["bbox"]) for a in document["annotations"]] == [
        (1, 16, [2, 2, 4, 4]),
        (2, 14, [8, 1, 1, 14]),
    ]


def test_dataset_object_must_be_named_when_there_are_several(mvtec: Path, files) -> None:
    files.image(mvtec / "cable/train/good/000.png")
    with pytest.raises(ValueError, match=r"holds 2 objects \(bottle, cable\)"):
        dataset_source("mvtec", mvtec)
    with pytest.raises(ValueError, match="unknown defect 'dent'"):
        dataset_source("mvtec", mvtec, object_name="bottle", defects=["dent"])


def test_class_table_keeps_ids_when_tables_agree_and_sorts_names_otherwise() -> None:
    assert merged_class_table([{1: "a", 2: "b"}, {1: "a"}, {3: "c"}]) == {1: "a", 2: "b", 3: "c"}
    assert merged_class_table([{1: "scratch"}, {1: "crack"}]) == {1: "crack", 2: "scratch"}
    assert merged_class_table([{1: "a", 2: "b"}, {1: "b", 2: "a"}]) == {1: "a", 2: "b"}


def test_bad_items_are_named_together_and_nothing_is_written(tmp_path: Path) -> None:
    labels = hand_case().labels
    source = example_source(tmp_path, [labels, labels, labels, labels])
    items = source.items
    # 1: labels of another size; 2: a pixel value that is no class id; 3: an image that is no image
    Image.fromarray(labels[:, :-1]).save(items[1].example.labels)
    bad_ids = labels.copy()
    bad_ids[0, 0] = 7
    Image.fromarray(bad_ids).save(items[2].example.labels)
    items[3].example.image.write_bytes(b"not a png")
    with pytest.raises(DatasetError) as caught:
        export_source(source, "coco", tmp_path / "out")
    problems = {p.path: p.problem for p in caught.value.problems}
    assert set(problems) == {items[1].example.labels, items[2].example.labels, items[3].example.image}
    assert "23x20 but the image 001.png is 24x20" in problems[items[1].example.labels]
    assert "[7] are no class id" in problems[items[2].example.labels]
    assert "cannot be read as an image" in problems[items[3].example.image]
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no staging folder left behind


def test_existing_output_is_refused_or_replaced_whole(tmp_path: Path) -> None:
    source = example_source(tmp_path, [hand_case().labels])
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(InputFileError, match="exists and is not empty"):
        export_source(source, "yolo-seg", out)
    assert (out / "old.txt").read_text() == "old"
    export_source(source, "yolo-seg", out, overwrite=True)
    assert not (out / "old.txt").exists() and (out / "data.yaml").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "out"]
    with pytest.raises(InputFileError, match="would replace or hold the source"):
        export_source(source, "coco", source.root, overwrite=True)
    with pytest.raises(InputFileError, match="exists and is not a folder"):
        export_source(source, "coco", out / "data.yaml")


def test_generation_source_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="has no manifest.jsonl"):
        run_export(ExportConfig(format="coco", source=tmp_path, out=tmp_path / "x"))
    source = write_generation(tmp_path / "gen", [hand_case().labels])
    (tmp_path / "normals" / "normal.png").unlink()
    with pytest.raises(DatasetError, match="--no-normals, exports without them"):
        run_export(ExportConfig(format="anomalib", source=source, out=tmp_path / "x"))
    # COCO has no place for normals, so it does not need them
    run_export(ExportConfig(format="coco", source=source, out=tmp_path / "coco"))
    (source / "labels" / "item_000.png").unlink()
    with pytest.raises(DatasetError, match="labels of item item_000 does not exist"):
        run_export(ExportConfig(format="coco", source=source, out=tmp_path / "y"))


def test_items_with_the_same_stem_are_refused(mvtec: Path, tmp_path: Path) -> None:
    image = mvtec / "bottle/test/broken/000.png"
    mask = mvtec / "bottle/ground_truth/broken/000_mask.png"
    example = DefectExample(image, mask, "bottle", "broken")
    with pytest.raises(ValueError, match="stem 'x' is given to 2 items"):
        ExportSource(tmp_path, (ExportItem("x", example), ExportItem("x", example)))
    with pytest.raises(ValueError, match="'../x' cannot name an exported file"):
        ExportSource(tmp_path, (ExportItem("../x", example),))


def test_config_checks_name_the_field() -> None:
    with pytest.raises(ValueError, match="ExportConfig.source=None: is required"):
        ExportConfig(format="coco", out=Path("o"))
    with pytest.raises(ValueError, match="ExportConfig.out=None"):
        ExportConfig(format="coco", source=Path("s"))
    with pytest.raises(ValueError, match="ExportConfig.format='voc'"):
        ExportConfig(format="voc", source=Path("s"), out=Path("o"))
    with pytest.raises(ValueError, match="ExportConfig.defects=.*is for a dataset source"):
        ExportConfig(source=Path("s"), out=Path("o"), defects=("a",))
    with pytest.raises(ValueError, match="ExportConfig.dataset='nope'"):
        ExportConfig(source=Path("s"), out=Path("o"), dataset="nope")
    assert ExportConfig(dataset="demo", out=Path("o")).source is None  # a built-in dataset has its own folder
