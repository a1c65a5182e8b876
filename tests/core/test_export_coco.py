"""COCO export: loaded by pycocotools, every annotation's ``annToMask`` against the region drawn by hand.

Bound: zero differing pixels, IoU 1.0 per region. The polygons follow pixel edges and pycocotools fills the
pixels whose centres lie inside (polygon corners sit on pixel corners, a fifth of its scale-5 grid away from
any centre), so the round trip has no approximation to allow for; any differing pixel is a bug.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from export_cases import CLASSES, blob_case, example_source, hand_case, write_generation
from PIL import Image
from pycocotools.coco import COCO

from defect_core.exports import ExportConfig, export_source, find_regions, run_export

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def round_trip(coco: COCO, image_id: int, drawn: list[tuple[int, np.ndarray]]) -> list[tuple[float, int]]:
    """(IoU, differing pixels) of every drawn region against the annotation that covers it."""
    masks = [
        (a["category_id"], coco.annToMask(a).astype(bool)) for a in coco.loadAnns(coco.getAnnIds([image_id]))
    ]
    assert len(masks) == len(drawn)
    figures = []
    for class_id, region in drawn:
        best = max((m for k, m in masks if k == class_id), key=lambda m: (m & region).sum())
        figures.append(((best & region).sum() / (best | region).sum(), int((best != region).sum())))
    return figures


def test_hand_case_round_trips_through_pycocotools(tmp_path: Path) -> None:
    case = hand_case()
    source = write_generation(tmp_path / "gen", [case.labels])
    summary = run_export(ExportConfig(format="coco", source=source, out=tmp_path / "coco"))
    assert (summary.images, summary.annotations) == (1, 8)

    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert [(c["id"], c["name"]) for c in coco.loadCats(coco.getCatIds())] == list(CLASSES.items())
    (image,) = coco.loadImgs(coco.getImgIds())
    assert (image["file_name"], image["height"], image["width"]) == ("item_000.png", 20, 24)
    assert (tmp_path / "coco" / "images" / "item_000.png").read_bytes() == (
        source / "defect" / "item_000.png"
    ).read_bytes()
    assert round_trip(coco, image["id"], case.regions) == [(1.0, 0)] * 8
    for ann in coco.loadAnns(coco.getAnnIds()):
        mask = coco.annToMask(ann).astype(bool)
        ys, xs = np.nonzero(mask)
        assert ann["area"] == mask.sum()
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert ann["iscrowd"] == 0 and len(ann["segmentation"]) == 1
    # per class, the union of the annotations is the label image's class
    for k in CLASSES:
        union = np.zeros(case.labels.shape, dtype=bool)
        for ann in coco.loadAnns(coco.getAnnIds(catIds=[k])):
            union |= coco.annToMask(ann).astype(bool)
        assert np.array_equal(union, case.labels == k)


def test_realistic_blobs_round_trip_through_pycocotools(tmp_path: Path) -> None:
    label_images = [blob_case(256, seed) for seed in range(3)]
    source = example_source(tmp_path, label_images)
    summary = export_source(source, "coco", tmp_path / "coco")
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    total = 0
    for image_id, labels in zip(coco.getImgIds(), label_images, strict=True):
        drawn = []
        for region in find_regions(labels):
            full = np.zeros(labels.shape, dtype=bool)
            h, w = region.mask.shape
            full[region.top : region.top + h, region.left : region.left + w] = region.mask
            drawn.append((region.class_id, full))
        figures = round_trip(coco, image_id, drawn)
        assert all(f == (1.0, 0) for f in figures)
        total += len(figures)
    assert summary.annotations == total >= 15


def test_binary_items_of_different_defects_get_the_sorted_names(tmp_path: Path) -> None:
    labels = np.zeros((8, 8), dtype=np.uint8)
    labels[1:3, 1:3] = 1
    source = write_generation(
        tmp_path / "gen", [labels, labels, labels], classes=None, names=["scratch", "crack", "scratch"]
    )
    run_export(ExportConfig(format="coco", source=source, out=tmp_path / "coco"))
    document = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert [(c["id"], c["name"]) for c in document["categories"]] == [(1, "crack"), (2, "scratch")]
    assert [a["category_id"] for a in document["annotations"]] == [2, 1, 2]


def test_an_image_without_defect_pixels_has_no_annotation(tmp_path: Path) -> None:
    labels = np.zeros((6, 7), dtype=np.uint8)
    source = example_source(tmp_path, [labels])
    export_source(source, "coco", tmp_path / "coco")
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert len(coco.getImgIds()) == 1 and coco.getAnnIds() == []
    assert Image.open(tmp_path / "coco" / "images" / "ex_000.png").size == (7, 6)
