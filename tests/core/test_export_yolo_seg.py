"""YOLO-seg export: the normalised polygons rasterised back (by an even-odd fill at pixel centres written
here, and by pycocotools) against the regions drawn by hand; class index = id - 1; data.yaml.

Bound: zero differing pixels. Corners sit on pixel corners; written with 6 decimals of the side they move by
at most 5e-7 x 256 px here, far from the half pixel to the nearest pixel centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycocotools.mask as coco_mask
import pytest
import yaml
from export_cases import blob_case, example_source, hand_case, write_generation

from defect_core.exports import ExportConfig, export_source, find_regions, run_export
from defect_core.exports.yolo_seg import yolo_names

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def even_odd_fill(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre (x + 0.5, y + 0.5) is inside ``polygon`` (n, 2) by the even-odd rule: for each
    row, count the edges that cross the horizontal line through the centres, left of each centre."""
    h, w = shape
    inside = np.zeros(shape, dtype=bool)
    start, end = polygon, np.roll(polygon, -1, axis=0)
    centres_x = np.arange(w) + 0.5
    for row in range(h):
        cy = row + 0.5
        crosses = (start[:, 1] > cy) != (end[:, 1] > cy)
        for (x0, y0), (x1, y1) in zip(start[crosses], end[crosses], strict=True):
            x_at = x0 + (cy - y0) * (x1 - x0) / (y1 - y0)
            inside[row] ^= centres_x > x_at
    return inside


def read_label_file(path: Path, shape: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
    """(class index, polygon in pixels (n, 2)) of every line."""
    h, w = shape
    out = []
    for line in path.read_text().splitlines():
        values = line.split()
        coords = np.asarray([float(v) for v in values[1:]]).reshape(-1, 2)
        assert coords.min() >= 0.0 and coords.max() <= 1.0
        out.append((int(values[0]), coords * np.array([w, h])))
    return out


def check_round_trip(label_file: Path, drawn: list[tuple[int, np.ndarray]]) -> None:
    shape = drawn[0][1].shape
    lines = read_label_file(label_file, shape)
    assert len(lines) == len(drawn)
    matched = []
    for index, polygon in lines:
        ours = even_odd_fill(polygon, shape)
        rle = coco_mask.merge(coco_mask.frPyObjects([polygon.ravel().tolist()], *shape))
        assert np.array_equal(coco_mask.decode(rle).astype(bool), ours)
        matched += [
            i for i, (k, region) in enumerate(drawn) if k - 1 == index and np.array_equal(region, ours)
        ]
    assert sorted(matched) == list(range(len(drawn)))  # every region exactly once, nothing else


def test_hand_case_round_trips(tmp_path: Path) -> None:
    case = hand_case()
    source = write_generation(tmp_path / "gen", [case.labels])
    summary = run_export(ExportConfig(format="yolo-seg", source=source, out=tmp_path / "yolo"))
    assert (summary.images, summary.annotations) == (1, 8)
    out = tmp_path / "yolo"
    check_round_trip(out / "labels" / "item_000.txt", case.regions)
    assert sorted(int(line.split()[0]) for line in (out / "labels" / "item_000.txt").read_text().splitlines()) == [
        0, 0, 0, 0, 1, 1, 1, 1,
    ]  # fmt: skip
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data == {"train": "images", "val": "images", "nc": 2, "names": {0: "crack", 1: "stain"}}
    assert (out / "images" / "item_000.png").read_bytes() == (source / "defect" / "item_000.png").read_bytes()


def test_realistic_blobs_round_trip(tmp_path: Path) -> None:
    label_images = [blob_case(256, seed) for seed in (5, 6)]
    export_source(example_source(tmp_path, label_images), "yolo-seg", tmp_path / "yolo")
    for i, labels in enumerate(label_images):
        drawn = []
        for region in find_regions(labels):
            full = np.zeros(labels.shape, dtype=bool)
            h, w = region.mask.shape
            full[region.top : region.top + h, region.left : region.left + w] = region.mask
            drawn.append((region.class_id, full))
        check_round_trip(tmp_path / "yolo" / "labels" / f"ex_{i:03d}.txt", drawn)


def test_empty_image_gets_an_empty_label_file(tmp_path: Path) -> None:
    export_source(example_source(tmp_path, [np.zeros((5, 5), dtype=np.uint8)]), "yolo-seg", tmp_path / "yolo")
    assert (tmp_path / "yolo" / "labels" / "ex_000.txt").read_text() == ""


def test_names_cover_every_index_up_to_the_largest_id() -> None:
    assert yolo_names({1: "a", 3: "c"}) == {0: "a", 1: "unused_2", 2: "c"}
    assert yolo_names({}) == {}


def test_names_with_yaml_syntax_stay_strings(tmp_path: Path) -> None:
    labels = np.zeros((4, 4), dtype=np.uint8)
    labels[1, 1] = 1
    classes = {1: 'no: "quoted" #1'}
    export_source(example_source(tmp_path, [labels], classes=classes), "yolo-seg", tmp_path / "yolo")
    assert yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())["names"] == {0: 'no: "quoted" #1'}
