"""Class-index labels: the palette, class tables, colour decoding, and the contracts and output layout that
carry them (issue 13 item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.class_labels import (
    PALETTE,
    PUBLISHED_PALETTE,
    class_table_from_names,
    color_to_labels,
    labels_to_color,
    load_labels,
    validate_class_table,
)
from defect_core.defect_example import DefectExample
from defect_core.errors import InputFileError
from defect_core.images import load_mask
from defect_core.manifest import read_manifest
from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord

# the palette as the issue (and Defect Spectrum's README) lists it, typed out independently
ISSUE_PALETTE = {
    0: (0, 0, 0),
    1: (0, 0, 255),
    2: (0, 255, 0),
    3: (255, 0, 0),
    4: (0, 255, 255),
    5: (255, 0, 255),
    6: (255, 255, 0),
    7: (128, 0, 0),
    8: (0, 128, 0),
    9: (0, 0, 128),
    10: (128, 128, 128),
}


def test_palette_starts_with_the_published_colours_and_is_one_to_one() -> None:
    assert PALETTE.shape == (256, 3) and PALETTE.dtype == np.uint8
    for k, rgb in ISSUE_PALETTE.items():
        assert tuple(int(v) for v in PALETTE[k]) == rgb
    assert tuple(map(tuple, PALETTE[:11].tolist())) == PUBLISHED_PALETTE
    assert len({tuple(c) for c in PALETTE.tolist()}) == 256


def test_colour_round_trip_over_every_id() -> None:
    labels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(color_to_labels(labels_to_color(labels)), labels)


def test_colour_decoding_by_hand() -> None:
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 1] = (0, 0, 255)  # class 1
    rgb[1, 2] = (128, 128, 128)  # class 10
    expected = np.array([[0, 1, 0], [0, 0, 10]], dtype=np.uint8)
    assert np.array_equal(color_to_labels(rgb), expected)


def test_unknown_colour_is_named_with_the_file(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[0, 0] = (1, 2, 3)
    path = tmp_path / "x_rgb_mask.png"
    Image.fromarray(rgb).save(path)
    with pytest.raises(InputFileError, match=r"x_rgb_mask\.png.*\(1, 2, 3\)"):
        load_labels(path)


def test_load_labels_reads_gray_ids_unscaled_and_colour_by_palette(tmp_path: Path) -> None:
    ids = np.array([[0, 3], [7, 1]], dtype=np.uint8)
    Image.fromarray(ids, mode="L").save(tmp_path / "gray.png")
    Image.fromarray(labels_to_color(ids)).save(tmp_path / "colour.png")
    assert np.array_equal(load_labels(tmp_path / "gray.png"), ids)
    assert np.array_equal(load_labels(tmp_path / "colour.png"), ids)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InputFileError, match="broken.png"):
        load_labels(tmp_path / "broken.png")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({0: "background"}, "0 is the background"),
        ({256: "x"}, "1..255"),
        ({1: ""}, "non-empty name"),
        ({1: "a", 2: "a"}, "repeated: a"),
        ({"one": "a"}, "not an integer"),
    ],
)
def test_class_table_rejects(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_class_table(table)


def test_class_table_from_names_is_sorted_and_stable() -> None:
    assert class_table_from_names(["scratch", "dent", "scratch"]) == {1: "dent", 2: "scratch"}
    assert validate_class_table({"2": "b", "1": "a"}) == {1: "a", 2: "b"}


def test_defect_example_with_labels_round_trips_through_json(tmp_path: Path) -> None:
    ex = DefectExample(
        image=tmp_path / "img.png",
        mask=tmp_path / "lab.png",
        object_name="cable",
        defect_name="combined",
        mask_threshold=1,
        labels=tmp_path / "lab.png",
        classes={2: "cable_swap", 1: "bent_wire"},
        caption="a cable with a bent wire",
    )
    assert list(ex.classes) == [1, 2]
    text = ex.to_json(relative_to=tmp_path)
    assert json.loads(text)["classes"] == {"1": "bent_wire", "2": "cable_swap"}
    back = DefectExample.from_json(text, base=tmp_path)
    assert back == ex and back.classes == {1: "bent_wire", 2: "cable_swap"}


def test_binary_view_of_a_label_image_is_labels_above_zero(tmp_path: Path) -> None:
    ids = np.zeros((6, 8), dtype=np.uint8)
    ids[1:3, 1:3] = 1
    ids[4:6, 5:8] = 2
    Image.fromarray(ids, mode="L").save(tmp_path / "lab.png")
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "img.png")
    ex = DefectExample(
        tmp_path / "img.png", tmp_path / "lab.png", "o", "combined", 1, tmp_path / "lab.png", {1: "a", 2: "b"}
    )
    assert np.array_equal(ex.load_mask(), ids > 0)
    assert np.array_equal(ex.load_labels(), ids)
    assert ex.class_table == {1: "a", 2: "b"}


def test_binary_example_is_one_class_named_after_its_defect(tmp_path: Path) -> None:
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[1, 1] = 255
    Image.fromarray(mask, mode="L").save(tmp_path / "m.png")
    ex = DefectExample(tmp_path / "i.png", tmp_path / "m.png", "o", "hole")
    assert ex.labels is None and ex.classes == {}
    assert ex.class_table == {1: "hole"}
    assert ex.load_labels().tolist() == (mask > 0).astype(np.uint8).tolist()


def test_labels_without_a_class_table_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="classes"):
        DefectExample(tmp_path / "i.png", tmp_path / "m.png", "o", "d", labels=tmp_path / "l.png")
    with pytest.raises(ValueError, match=r"DefectExample\.classes.*0 is the background"):
        DefectExample(tmp_path / "i.png", tmp_path / "m.png", "o", "d", classes={0: "bg"})


def _record(item_id: str, classes: dict[int, str]) -> SampleRecord:
    return SampleRecord(
        item_id=item_id,
        image=Path("p.png"),
        mask=Path("m.png"),
        source_image=Path("noise"),
        mask_source="generated",
        defect_name="combined",
        seed=0,
        base_model="defectgen",
        concept="bottle/defectgen",
        classes=classes,
    )


def test_writer_writes_labels_and_their_colour_view(tmp_path: Path) -> None:
    labels = np.zeros((8, 10), dtype=np.uint8)
    labels[1:4, 1:4] = 1
    labels[5:7, 6:9] = 3
    image = Image.fromarray(np.full((8, 10, 3), 90, np.uint8))
    writer = GenerationWriter(tmp_path / "out")
    rec = writer.write_item(_record("a", {1: "broken", 3: "stain"}), image, labels > 0, labels=labels)
    out = tmp_path / "out"
    assert rec.labels == out / "labels" / "a.png"
    assert np.array_equal(np.asarray(Image.open(out / "labels" / "a.png")), labels)
    colour = np.asarray(Image.open(out / "labels_color" / "a.png").convert("RGB"))
    assert tuple(colour[2, 2]) == (0, 0, 255) and tuple(colour[6, 7]) == (255, 0, 0)
    # mask/ stays 0 / 255, the union of the classes
    assert set(np.unique(np.asarray(Image.open(out / "mask" / "a.png"))).tolist()) == {0, 255}
    assert np.array_equal(load_mask(out / "mask" / "a.png"), labels > 0)
    (back,) = read_manifest(writer.manifest_path)
    assert back.classes == {1: "broken", 3: "stain"} and back.labels == rec.labels
    # a binary item writes no label folders entry
    writer.write_item(
        SampleRecord(
            item_id="b",
            image=Path("p.png"),
            mask=Path("m.png"),
            source_image=Path("n.png"),
            mask_source="held-out",
            defect_name="hole",
            seed=0,
            base_model="x",
            prompt="a hole",
        ),
        image,
        labels > 0,
    )
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["a.png"]


def test_writer_refuses_labels_that_disagree(tmp_path: Path) -> None:
    labels = np.zeros((8, 10), dtype=np.uint8)
    labels[1:4, 1:4] = 2
    image = Image.fromarray(np.zeros((8, 10, 3), np.uint8))
    writer = GenerationWriter(tmp_path / "out")
    with pytest.raises(ValueError, match=r"label value\(s\) \[2\]"):
        writer.write_item(_record("a", {1: "x"}), image, labels > 0, labels=labels)
    with pytest.raises(ValueError, match="union"):
        writer.write_item(_record("a", {2: "x"}), image, np.zeros((8, 10), bool), labels=labels)
    with pytest.raises(ValueError, match="do not match"):
        writer.write_item(_record("a", {2: "x"}), image, labels > 0, labels=labels[:4])
    assert not (tmp_path / "out" / "labels").exists()
    assert read_manifest(writer.manifest_path) == []


def test_item_whose_labels_file_is_gone_is_not_finished(tmp_path: Path) -> None:
    labels = np.zeros((8, 10), dtype=np.uint8)
    labels[2:5, 2:5] = 1
    writer = GenerationWriter(tmp_path / "out")
    image = Image.fromarray(np.zeros((8, 10, 3), np.uint8))
    writer.write_item(_record("a", {1: "x"}), image, labels > 0, labels=labels)
    assert writer.finished_item_ids() == {"a"}
    (tmp_path / "out" / "labels" / "a.png").unlink()
    assert writer.finished_item_ids() == set()
