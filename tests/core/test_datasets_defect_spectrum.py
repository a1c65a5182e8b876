"""The defect-spectrum reader on a small DS-MVTec-shaped tree built here: class ids from mask/ files and from
colour-only rgb_mask / rbg_mask files, the published class tables and classes.json, captions.xlsx, the
original MVTec AD normals, and one error naming every bad file (issue 13 item 2)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.datasets import (
    DS_MVTEC_CLASSES,
    DefectSpectrumReader,
    create_reader,
    open_dataset,
    read_classes_file,
)
from defect_core.datasets.splits import split_examples
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError

W, H = 16, 12
# the palette, typed out here (not read from defect_core), for the colour-only masks
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
BOTTLE = {1: "broken_large", 2: "broken_small", 3: "contamination"}


def _image(path: Path, size: tuple[int, int] = (W, H), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels, mode="RGB").save(path)
    return path


def _ids(path: Path, boxes: dict[int, tuple[int, int, int, int]], size: tuple[int, int] = (W, H)) -> Path:
    """A gray class-id PNG: ``{id: (x0, y0, x1, y1)}`` boxes (x1, y1 exclusive) on 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = np.zeros((size[1], size[0]), dtype=np.uint8)
    for k, (x0, y0, x1, y1) in boxes.items():
        ids[y0:y1, x0:x1] = k
    Image.fromarray(ids, mode="L").save(path)
    return path


def _colour(path: Path, boxes: dict[tuple[int, int, int], tuple[int, int, int, int]]) -> Path:
    """An RGB colour mask: ``{colour: box}`` on black."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.zeros((H, W, 3), dtype=np.uint8)
    for colour, (x0, y0, x1, y1) in boxes.items():
        rgb[y0:y1, x0:x1] = colour
    Image.fromarray(rgb, mode="RGB").save(path)
    return path


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    """DS-MVTec with bottle (id files, a colour-only rbg_mask and rgb_mask, a good/ folder) and cable
    (a combined image holding two classes)."""
    root = tmp_path / "DS-MVTec"
    bottle = root / "bottle"
    for i in range(3):
        _image(bottle / "image" / "broken_large" / f"00{i}.png", seed=i)
        _ids(bottle / "mask" / "broken_large" / f"00{i}_mask.png", {1: (2, 2, 6, 5)})
        # a colour file too, saying something else: the class-id file wins
        _colour(bottle / "rgb_mask" / "broken_large" / f"00{i}_rgb_mask.png", {RED: (0, 0, 4, 4)})
    _image(bottle / "image" / "broken_small" / "000.png")
    _colour(bottle / "rbg_mask" / "broken_small" / "000_rbg_mask.png", {GREEN: (1, 1, 4, 3)})  # 3 x 2
    _image(bottle / "image" / "contamination" / "000.png")
    _colour(
        bottle / "rgb_mask" / "contamination" / "000_rgb_mask.png", {RED: (5, 5, 10, 9), GREEN: (0, 0, 1, 1)}
    )
    _image(bottle / "image" / "good" / "000.png")
    cable = root / "cable"
    _image(cable / "image" / "combined" / "000.png")
    # bent_wire (1) in a 4 x 3 box and cut_outer_insulation (5) in a 2 x 5 box: two classes, one image
    _ids(cable / "mask" / "combined" / "000_mask.png", {1: (0, 0, 4, 3), 5: (10, 4, 12, 9)})
    (root / "DS-MVTec.md").write_text("# DS-MVTec\n")
    return root


def test_published_class_tables() -> None:
    assert len(DS_MVTEC_CLASSES) == 15
    assert DS_MVTEC_CLASSES["bottle"] == BOTTLE
    assert DS_MVTEC_CLASSES["cable"] == {
        1: "bent_wire",
        2: "cable_swap",
        3: "combined",
        4: "cut_inner_insulation",
        5: "cut_outer_insulation",
        6: "missing_cable",
        7: "missing_wire",
        8: "poke_insulation",
    }
    # DS-MVTec.md's ids are not in sorted name order everywhere
    assert DS_MVTEC_CLASSES["capsule"] == {
        1: "crack",
        2: "poke",
        3: "faulty_imprint",
        4: "scratch",
        5: "squeeze",
    }
    assert DS_MVTEC_CLASSES["toothbrush"] == {1: "contamination", 2: "missing", 3: "messy"}


def test_objects_defects_and_class_id_files(ds: Path) -> None:
    reader = create_reader("defect-spectrum", ds)
    assert isinstance(reader, DefectSpectrumReader) and reader.split_rule == "first-third"
    assert reader.object_names() == ["bottle", "cable"]
    assert reader.defect_names("bottle") == ["broken_large", "broken_small", "contamination"]  # no "good"
    examples = reader.defect_examples("bottle", "broken_large")
    mask_dir = ds / "bottle" / "mask" / "broken_large"
    assert examples == [
        DefectExample(
            ds / "bottle/image/broken_large" / f"00{i}.png",
            mask_dir / f"00{i}_mask.png",
            "bottle",
            "broken_large",
            mask_threshold=1,
            labels=mask_dir / f"00{i}_mask.png",
            classes=BOTTLE,
        )
        for i in range(3)
    ]
    labels = examples[0].load_labels()
    assert labels.shape == (H, W) and set(np.unique(labels)) == {0, 1} and (labels == 1).sum() == 4 * 3
    assert np.array_equal(examples[0].load_mask(), labels > 0)
    # the first-third rule on one category: 3 examples, 1 trains
    split = split_examples(examples)
    assert [e.image.name for e in split.train] == ["000.png"]


def test_a_combined_image_holds_two_classes(ds: Path) -> None:
    [example] = DefectSpectrumReader(ds).defect_examples("cable", "combined")
    assert example.defect_name == "combined" and example.classes == DS_MVTEC_CLASSES["cable"]
    labels = example.load_labels()
    counts = {int(k): int((labels == k).sum()) for k in np.unique(labels)}
    assert counts == {0: W * H - 12 - 10, 1: 4 * 3, 5: 2 * 5}
    assert example.load_mask().sum() == 12 + 10


def test_colour_only_masks_in_both_spellings_decode_by_the_palette(ds: Path) -> None:
    reader = DefectSpectrumReader(ds)
    [small] = reader.defect_examples("bottle", "broken_small")
    rbg = ds / "bottle" / "rbg_mask" / "broken_small" / "000_rbg_mask.png"
    assert small.labels == rbg and small.mask == rbg and small.mask_threshold == 1
    labels = small.load_labels()
    assert set(np.unique(labels)) == {0, 2} and (labels == 2).sum() == 3 * 2  # green is id 2
    assert np.array_equal(small.load_mask(), labels > 0)

    [dirt] = reader.defect_examples("bottle", "contamination")
    assert dirt.labels == ds / "bottle" / "rgb_mask" / "contamination" / "000_rgb_mask.png"
    labels = dirt.load_labels()
    assert (labels == 3).sum() == 5 * 4 and (labels == 2).sum() == 1 and (labels == 1).sum() == 0
    assert np.array_equal(dirt.load_mask(), labels > 0)
    # nothing was written into the dataset folder
    assert not list(ds.rglob("*.tmp-*")) and not (ds / "bottle" / "mask" / "contamination").exists()


def test_one_error_names_every_bad_file(ds: Path, files) -> None:
    images, masks = ds / "bottle" / "image" / "broken_large", ds / "bottle" / "mask" / "broken_large"
    _image(images / "003.png")
    _ids(masks / "003_mask.png", {1: (0, 0, 2, 2), 7: (4, 4, 6, 6), 9: (8, 8, 9, 9)})  # 7, 9: no bottle ids
    _image(images / "004.png")
    _ids(masks / "004_mask.png", {1: (0, 0, 2, 2)}, size=(8, 8))  # size differs from its 16 x 12 image
    _image(images / "005.png")  # no labels anywhere
    _image(images / "006.png")
    files.corrupt(masks / "006_mask.png")  # unreadable PNG
    with pytest.raises(DatasetError) as info:
        DefectSpectrumReader(ds).defect_examples("bottle", "broken_large")
    by_file = {p.path.name: p.problem for p in info.value.problems}
    assert set(by_file) == {"003_mask.png", "004_mask.png", "005.png", "006_mask.png"}
    assert "pixel value(s) 7, 9 are no class id" in by_file["003_mask.png"]
    assert "1 broken_large, 2 broken_small, 3 contamination" in by_file["003_mask.png"]
    assert "label image is 8x8 but its image 004.png is 16x12" in by_file["004_mask.png"]
    assert by_file["005.png"].startswith("has no labels: looked for bottle/mask/broken_large/005_mask.png")
    assert "rbg_mask/broken_large/005_rbg_mask.png" in by_file["005.png"]
    assert "cannot be read as an image" in by_file["006_mask.png"]


def test_a_colour_outside_the_palette_is_named(ds: Path) -> None:
    _colour(ds / "bottle" / "rgb_mask" / "broken_small" / "000_rgb_mask.png", {(10, 20, 30): (0, 0, 2, 2)})
    (ds / "bottle" / "rbg_mask" / "broken_small" / "000_rbg_mask.png").unlink()
    with pytest.raises(DatasetError, match=re.escape("colour(s) (10, 20, 30) are not in the class palette")):
        DefectSpectrumReader(ds).defect_examples("bottle", "broken_small")


def test_classes_json_replaces_the_published_table(ds: Path) -> None:
    (ds / "bottle" / "classes.json").write_text('{"1": "crack", "2": "chip", "3": "dirt"}')
    (ds / "cable" / "classes.json").write_text('{"bent_wire": 1, "cut_outer_insulation": 5}')  # names to ids
    reader = DefectSpectrumReader(ds)
    assert reader.class_table("bottle") == {1: "crack", 2: "chip", 3: "dirt"}
    assert [e.classes for e in reader.defect_examples("bottle", "broken_large")] == [
        {1: "crack", 2: "chip", 3: "dirt"}
    ] * 3
    assert reader.defect_examples("cable", "combined")[0].classes == {
        1: "bent_wire",
        5: "cut_outer_insulation",
    }
    # the override is checked too: a table without id 1 makes the bottle's 1s unknown
    (ds / "bottle" / "classes.json").write_text('{"2": "chip"}')
    with pytest.raises(DatasetError, match=r"pixel value\(s\) 1 are no class id \(0 background; 2 chip\)"):
        DefectSpectrumReader(ds).defect_examples("bottle", "broken_large")


def test_bad_classes_json_and_unknown_objects_are_named(ds: Path) -> None:
    bad = ds / "bottle" / "classes.json"
    bad.write_text('{"0": "background"}')
    with pytest.raises(InputFileError, match=r"class id 0 must be in 1\.\.255") as info:
        DefectSpectrumReader(ds).class_table("bottle")
    assert info.value.path == bad
    bad.write_text('{"1": "a", "b": 2}')
    with pytest.raises(InputFileError, match="not a mix"):
        read_classes_file(bad)
    _image(ds / "widget" / "image" / "dent" / "000.png")
    with pytest.raises(
        InputFileError, match="publishes no class table for object 'widget': write classes.json"
    ):
        DefectSpectrumReader(ds).defect_examples("widget", "dent")


def test_normals_come_from_the_original_mvtec_tree(ds: Path, tmp_path: Path) -> None:
    mvtec = tmp_path / "mvtec_ad"
    train = [_image(mvtec / "bottle" / "train" / "good" / f"{n}.png") for n in ("000", "001")]
    test = [_image(mvtec / "bottle" / "test" / "good" / "000.png")]
    reader = open_dataset("defect-spectrum", ds, normals_root=mvtec)
    assert isinstance(reader, DefectSpectrumReader) and reader.normals_root == mvtec
    assert reader.normal_images("bottle") == train
    assert reader.normal_images("bottle", split="test") == test
    with pytest.raises(InputFileError, match="no defect-free images of 'cable'") as info:
        reader.normal_images("cable")
    assert info.value.path == mvtec / "cable" / "train" / "good"
    with pytest.raises(
        ValueError, match=r"ships no defect-free images .*give normals_root \(--normals-root\)"
    ):
        DefectSpectrumReader(ds).normal_images("bottle")
    with pytest.raises(InputFileError, match="normals folder"):
        DefectSpectrumReader(ds, normals_root=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="normals_root .* is for datasets that ship no defect-free images"):
        open_dataset("mvtec", mvtec, normals_root=mvtec)


def _captions_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_captions_load_into_the_examples(ds: Path) -> None:
    _captions_xlsx(
        ds / "captions.xlsx",
        ["Path", "object description", "defect description"],
        [
            ["DS-MVTec/bottle/image/broken_large/000.png", "a bottle", "A large break at the rim."],
            ["bottle\\image\\broken_small\\000.png", "a bottle", "A small chip."],  # Windows separators
            ["/data/DS-MVTec/cable/image/combined/000.png", "a cable", "A bent wire and a cut."],
            ["bottle/image/broken_large/001.png", "a bottle", None],  # no caption: skipped
        ],
    )
    reader = DefectSpectrumReader(ds)
    assert [e.caption for e in reader.defect_examples("bottle", "broken_large")] == [
        "A large break at the rim.",
        None,
        None,
    ]
    assert reader.defect_examples("bottle", "broken_small")[0].caption == "A small chip."
    assert reader.defect_examples("cable", "combined")[0].caption == "A bent wire and a cut."
    assert DefectSpectrumReader(ds, captions=False).defect_examples("cable", "combined")[0].caption is None
    # an explicit path, and a header without a caption column
    other = _captions_xlsx(
        ds.parent / "mine.xlsx", ["image", "Caption"], [["cable/combined/000.png", "mine"]]
    )
    assert DefectSpectrumReader(ds, captions=other).defect_examples("cable", "combined")[0].caption == "mine"
    bad = _captions_xlsx(ds.parent / "bad.xlsx", ["Path", "notes"], [["cable/combined/000.png", "x"]])
    with pytest.raises(InputFileError, match="has no caption column") as info:
        DefectSpectrumReader(ds, captions=bad).defect_examples("cable", "combined")
    assert info.value.path == bad and "defect description" in str(info.value)


def test_without_the_extra_everything_but_captions_reads(
    ds: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _captions_xlsx(
        ds / "captions.xlsx", ["Path", "defect description"], [["bottle/broken_small/000.png", "x"]]
    )
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if defect-core[captions] were not installed
    [example] = DefectSpectrumReader(ds).defect_examples("bottle", "broken_small")
    assert example.caption is None and "install defect-core[captions]" in caplog.text
    with pytest.raises(ImportError, match=re.escape("install defect-core[captions]")):
        DefectSpectrumReader(ds, captions=True).defect_examples("bottle", "broken_small")


def test_other_layouts_are_not_supported_yet(tmp_path: Path) -> None:
    vision = tmp_path / "DS-VISION"
    _image(vision / "Capacitor" / "image" / "001.png")
    _ids(vision / "Capacitor" / "mask" / "001.png", {1: (0, 0, 2, 2)})
    with pytest.raises(DatasetError, match="not supported yet") as info:
        DefectSpectrumReader(vision)
    assert [p.path for p in info.value.problems] == [vision / "Capacitor" / "image"]
    dagm = tmp_path / "DS-DAGM"
    _image(dagm / "image" / "001.png")
    with pytest.raises(InputFileError, match="DS-DAGM layout.*not supported yet") as info:
        DefectSpectrumReader(dagm)
    assert info.value.path == dagm
    with pytest.raises(InputFileError, match="it holds the subsets DS-DAGM, DS-VISION; give one of them"):
        DefectSpectrumReader(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no <object>/image/ folder"):
        DefectSpectrumReader(tmp_path / "empty")
