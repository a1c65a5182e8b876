"""labelme files beside the images of a plain folder: rasterised to class-index labels in the cache, with the
class table from the sorted label names (or classes.json), checked against a hand count of pixels; and every
disagreement with the image named (issue 13 item 3)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from defect_core.datasets import FolderReader, open_dataset
from defect_core.errors import DatasetError

W, H = 20, 12


def _labelme(
    path: Path, shapes: list[dict], image_path: str | None = None, size: tuple[int, int] = (W, H)
) -> Path:
    data = {
        "version": "5.4.1",
        "flags": {},
        "shapes": [{"group_id": None, "flags": {}, "description": "", **s} for s in shapes],
        "imagePath": image_path if image_path is not None else path.with_suffix(".png").name,
        "imageData": None,
        "imageHeight": size[1],
        "imageWidth": size[0],
    }
    path.write_text(json.dumps(data))
    return path


def _rect(label: str, a: tuple[float, float], b: tuple[float, float]) -> dict:
    return {"label": label, "shape_type": "rectangle", "points": [list(a), list(b)]}


def _poly(label: str, *points: tuple[float, float]) -> dict:
    return {"label": label, "shape_type": "polygon", "points": [list(p) for p in points]}


@pytest.fixture
def folder(tmp_path: Path, files) -> Path:
    root = tmp_path / "parts"
    images = root / "images"
    files.image(images / "a.png", size=(W, H))
    _labelme(
        images / "a.json",
        [
            _rect("scratch", (2, 3), (5, 7)),  # columns 2..5, rows 3..7: 4 x 5 = 20 pixels
            _poly("dent", (10, 1), (14, 1), (14, 4), (10, 4)),  # columns 10..14, rows 1..4: 5 x 4 = 20
            _rect(
                "dent", (6, 6), (4, 6)
            ),  # corners in any order; row 6, columns 4..6: 3 pixels, 2 over scratch
        ],
    )
    files.image(images / "b.png", size=(W, H), seed=1)
    # a right triangle with legs of 3 pixels: rows 8..11 hold 4, 3, 2, 1 pixels = 10
    _labelme(images / "b.json", [_poly("crack", (0, 8), (3, 8), (0, 11))], image_path="..\\images\\b.png")
    files.image(root / "good" / "n.png", size=(W, H))
    return root


def _reader(root: Path, cache: Path) -> FolderReader:
    return FolderReader(root, object_name="part", defect_name="defects", cache_dir=cache)


def _tree(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in sorted(root.rglob("*"))}


def test_labelme_shapes_rasterise_to_a_hand_count(folder: Path, tmp_path: Path) -> None:
    before = _tree(folder)
    cache = tmp_path / "cache"
    a, b = _reader(folder, cache).defect_examples("part", "defects")
    # ids 1..n for the sorted names of every file of the folder
    classes = {1: "crack", 2: "dent", 3: "scratch"}
    assert a.classes == classes and b.classes == classes
    assert a.image == folder / "images" / "a.png" and a.labels == a.mask and a.mask_threshold == 1
    labels = a.load_labels()
    assert labels.shape == (H, W)
    counts = {int(k): int((labels == k).sum()) for k in np.unique(labels)}
    assert counts == {0: W * H - 18 - 23, 2: 20 + 3, 3: 20 - 2}  # the later dent paints over the scratch
    assert labels[6, 4] == labels[6, 5] == 2 and labels[6, 3] == 3 and labels[3, 2] == labels[7, 5] == 3
    assert np.array_equal(a.load_mask(), labels > 0)
    crack = b.load_labels()
    assert {int(k): int((crack == k).sum()) for k in np.unique(crack)} == {0: W * H - 10, 1: 10}
    assert [int(crack[y].sum()) for y in range(8, 12)] == [4, 3, 2, 1]
    # the label files live in the cache, with the class table recorded beside them; the dataset is untouched
    assert a.labels.is_relative_to(cache / "labelme") and b.labels.parent == a.labels.parent
    assert json.loads((a.labels.parent / "classes.json").read_text()) == {
        "1": "crack",
        "2": "dent",
        "3": "scratch",
    }
    assert _tree(folder) == before


def test_the_cache_is_reused_and_follows_edits(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _reader(folder, cache).defect_examples("part", "defects")[0].labels
    stamp = first.stat().st_mtime_ns
    os.utime(first, ns=(stamp - 10**9, stamp - 10**9))
    again = _reader(folder, cache).defect_examples("part", "defects")[0].labels
    assert again == first and again.stat().st_mtime_ns == stamp - 10**9  # not rewritten
    _labelme(folder / "images" / "a.json", [_rect("scratch", (0, 0), (1, 1))])
    edited = _reader(folder, cache).defect_examples("part", "defects")[0]
    # "dent" is gone from the folder, so the sorted names give scratch id 2 now (classes.json pins ids)
    assert edited.classes == {1: "crack", 2: "scratch"}
    assert edited.labels != first and int((edited.load_labels() == 2).sum()) == 4
    assert not list(cache.rglob(".*.tmp-*"))


def test_classes_json_pins_the_ids(folder: Path, tmp_path: Path) -> None:
    (folder / "classes.json").write_text('{"4": "scratch", "7": "dent", "9": "crack"}')
    a, b = _reader(folder, tmp_path / "cache").defect_examples("part", "defects")
    assert a.classes == {4: "scratch", 7: "dent", 9: "crack"}
    labels = a.load_labels()
    assert int((labels == 4).sum()) == 18 and int((labels == 7).sum()) == 23
    assert int((b.load_labels() == 9).sum()) == 10
    (folder / "classes.json").write_text('{"1": "scratch"}')
    with pytest.raises(DatasetError, match=r"label\(s\) 'crack' are not in .*classes.json"):
        _reader(folder, tmp_path / "cache").defect_examples("part", "defects")


def test_every_disagreement_is_named_in_one_error(folder: Path, tmp_path: Path, files) -> None:
    images = folder / "images"
    files.image(images / "c.png", size=(W, H))
    _labelme(
        images / "c.json", [_poly("dent", (1, 1), (25, 1), (1, 5))]
    )  # x = 25 is outside the 20 x 12 image
    files.image(images / "d.png", size=(W, H))
    _labelme(images / "d.json", [_rect("dent", (1, 1), (2, 2))], image_path="other.png")
    files.image(images / "e.png", size=(W, H))
    _labelme(images / "e.json", [_rect("dent", (1, 1), (2, 2))], size=(W, H + 1))
    files.image(images / "f.png", size=(W, H))  # no labelme file, unlike the others
    files.image(images / "g.png", size=(W, H))
    _labelme(images / "g.json", [{"label": "dent", "shape_type": "circle", "points": [[5, 5], [7, 5]]}])
    with pytest.raises(DatasetError) as info:
        _reader(folder, tmp_path / "cache").defect_examples("part", "defects")
    by_file = {p.path.name: p.problem for p in info.value.problems}
    assert set(by_file) == {"c.json", "d.json", "e.json", "f.png", "g.json"}
    assert (
        by_file["c.json"] == "shapes[0] ('dent', polygon) has point(s) outside the 20x12 image c.png: (25, 1)"
    )
    assert by_file["d.json"] == "imagePath 'other.png' is not its image d.png"
    assert "imageWidth x imageHeight 20x13 is not the size of e.png, 20x12" in by_file["e.json"]
    assert "has no labelme file f.json" in by_file["f.png"]
    assert "shapes[0] ('dent') is a 'circle'; only polygon and rectangle are read" in by_file["g.json"]
    assert not (tmp_path / "cache").exists()  # nothing is rasterised while the folder has problems


def test_labelme_and_masks_do_not_mix(folder: Path, tmp_path: Path, files) -> None:
    files.mask(folder / "masks" / "a.png", size=(W, H))
    with pytest.raises(
        DatasetError, match=re.escape("has a mask in masks/ and the folder has labelme files")
    ):
        _reader(folder, tmp_path / "cache").defect_examples("part", "defects")


def test_open_dataset_reads_labelme_folders_through_the_default_cache(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFECTFILL_CACHE", str(tmp_path / "user-cache"))
    reader = open_dataset("folder", folder, object_name="part", defect_name="defects")
    examples = reader.defect_examples("part", "defects")
    assert all(e.labels.is_relative_to(tmp_path / "user-cache" / "labelme") for e in examples)
    assert reader.normal_images("part") == [folder / "good" / "n.png"]
