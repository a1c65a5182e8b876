"""The built-in demo dataset: MVTec AD layout, counts, binary masks, determinism, cache behaviour."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.builtin import demo
from defect_core.builtin.demo import DEMO_DEFECTS, ensure_demo_dataset, paint_defect, write_demo_dataset
from defect_core.images import load_mask, load_rgb
from defect_core.masks import validate_mask

SMALL = {"objects": ("gravel",), "defects_per_object": 3, "pairs_per_defect": 2, "normals": 2, "size": 64}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("demo") / "data")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_counts(dataset):
    assert sorted(p.name for p in dataset.iterdir()) == ["README.txt", "brick", "dataset.json", "gravel"]
    for obj in ("brick", "gravel"):
        base = dataset / obj
        assert sorted(p.name for p in (base / "train" / "good").iterdir()) == [
            f"{i:03d}.png" for i in range(30)
        ]
        assert sorted(p.name for p in (base / "test").iterdir()) == ["good", "hole", "scratch"]
        assert len(list((base / "test" / "good").glob("*.png"))) == 3
        assert sorted(p.name for p in (base / "ground_truth").iterdir()) == ["hole", "scratch"]
        for defect in ("scratch", "hole"):
            images = sorted(p.stem for p in (base / "test" / defect).iterdir())
            masks = sorted(p.name for p in (base / "ground_truth" / defect).iterdir())
            assert images == [f"{i:03d}" for i in range(9)]
            assert masks == [f"{stem}_mask.png" for stem in images]


def test_images_are_rgb_and_masks_binary_nonempty_same_size(dataset):
    for obj in ("brick", "gravel"):
        for image_path in (dataset / obj).rglob("*.png"):
            if "ground_truth" in image_path.parts:
                continue
            with Image.open(image_path) as im:
                assert im.mode == "RGB" and im.size == (128, 128), image_path
        for mask_path in (dataset / obj / "ground_truth").rglob("*_mask.png"):
            values = np.unique(np.asarray(Image.open(mask_path)))
            assert set(values.tolist()) <= {0, 255} and 255 in values.tolist(), mask_path
            validate_mask(load_mask(mask_path), (128, 128), path=mask_path)


def test_defect_images_differ_from_each_other_and_from_normals(dataset):
    base = dataset / "brick"
    pixels = [np.asarray(load_rgb(p)) for p in sorted((base / "test").rglob("*.png"))]
    pixels += [np.asarray(load_rgb(p)) for p in sorted((base / "train" / "good").glob("*.png"))]
    assert len({p.tobytes() for p in pixels}) == len(pixels)


def test_description_files(dataset):
    info = json.loads((dataset / "dataset.json").read_text())
    assert info["seed"] == 0 and info["image_size"] == 128 and info["layout"] == "MVTec AD"
    assert info["objects"]["brick"] == {
        "source": "skimage.data.brick()",
        "train_good": 30,
        "test_good": 3,
        "defects": {"scratch": 9, "hole": 9},
    }
    readme = (dataset / "README.txt").read_text()
    assert "scikit-image" in readme and "gravel" in readme


def test_same_arguments_give_byte_identical_files(tmp_path, dataset):
    again = _files(write_demo_dataset(tmp_path / "again"))
    assert again == _files(dataset)


def test_another_seed_gives_other_images(tmp_path):
    a = _files(write_demo_dataset(tmp_path / "a", **SMALL))
    b = _files(write_demo_dataset(tmp_path / "b", **SMALL, seed=1))
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.endswith(".png"))


def test_an_object_does_not_depend_on_the_others(tmp_path):
    alone = _files(write_demo_dataset(tmp_path / "alone", **SMALL))
    params = dict(SMALL, objects=("grass", "gravel"))
    both = _files(write_demo_dataset(tmp_path / "both", **params))
    assert {k: v for k, v in both.items() if k.startswith("gravel")} == {
        k: v for k, v in alone.items() if k.startswith("gravel")
    }


def test_all_three_defect_types(tmp_path):
    root = write_demo_dataset(tmp_path / "d", **SMALL)
    assert sorted(p.name for p in (root / "gravel" / "ground_truth").iterdir()) == sorted(DEMO_DEFECTS)


@pytest.mark.parametrize("defect", DEMO_DEFECTS)
def test_paint_defect_changes_exactly_the_masked_pixels(defect):
    rng = np.random.default_rng(5)
    image = rng.integers(60, 200, (96, 96, 3), dtype=np.uint8)
    for _ in range(4):
        painted, mask = paint_defect(image, defect, rng)
        assert mask.dtype == np.bool_ and mask.shape == (96, 96) and mask.any() and not mask.all()
        np.testing.assert_array_equal(painted[~mask], image[~mask])
        change = np.abs(painted.astype(int) - image.astype(int)).max(axis=2)
        assert change[mask].mean() > 25


def test_unknown_defect_and_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown demo defect 'dent'"):
        paint_defect(np.zeros((32, 32, 3), np.uint8), "dent", np.random.default_rng(0))
    with pytest.raises(ValueError, match="objects"):
        write_demo_dataset(tmp_path / "x", objects=("marble",))
    with pytest.raises(ValueError, match="defects_per_object"):
        write_demo_dataset(tmp_path / "x", defects_per_object=4)


def test_refuses_to_write_into_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="empty"):
        write_demo_dataset(tmp_path)


def test_missing_scikit_image_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(ImportError, match=r"defect-core\[demo\]"):
        write_demo_dataset(tmp_path / "d", **SMALL)


# ------------------------------------------------------------------------------------------------- cache


def test_ensure_writes_once_then_reuses(tmp_path, monkeypatch):
    calls = []
    real = demo.write_demo_dataset

    def small(root):
        calls.append(root)
        return real(root, **SMALL)

    monkeypatch.setattr(demo, "write_demo_dataset", small)
    first = ensure_demo_dataset(tmp_path / "cache")
    assert first == tmp_path / "cache" / "demo-v1"
    assert (first / "dataset.json").is_file() and (first / "gravel" / "train" / "good" / "000.png").is_file()
    assert ensure_demo_dataset(tmp_path / "cache") == first
    assert len(calls) == 1
    # written elsewhere, then renamed: no temporary folder is left beside it
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["demo-v1"]
    assert calls[0] != first


def test_ensure_uses_the_environment_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTFILL_CACHE", str(tmp_path / "envcache"))
    real = demo.write_demo_dataset
    monkeypatch.setattr(demo, "write_demo_dataset", lambda root: real(root, **SMALL))
    assert ensure_demo_dataset() == tmp_path / "envcache" / "demo-v1"


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def crash(root):
        (Path(root) / "brick").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "write_demo_dataset", crash)
    with pytest.raises(KeyboardInterrupt):
        ensure_demo_dataset(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_incomplete_cache_folder_is_reported(tmp_path):
    (tmp_path / "demo-v1").mkdir()
    with pytest.raises(ValueError, match="not a complete dataset"):
        ensure_demo_dataset(tmp_path)
