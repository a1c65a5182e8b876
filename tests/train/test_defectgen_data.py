"""Defect-Gen's training samples: the one-hot class channels, the 5 / 50 caps, and bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.datasets import open_dataset
from defect_core.defect_example import DefectExample
from defect_train.defectgen.config import DefectGenTrainConfig
from defect_train.defectgen.data import encode_example, resolve_defectgen_data, shared_class_table


def _write_mvtec(root: Path, counts: dict[str, int], size: int = 8) -> Path:
    """An MVTec-layout dataset of object "part" with ``counts[defect]`` tiny pairs per category."""
    rng = np.random.default_rng(0)
    for defect, count in counts.items():
        for i in range(count):
            image = root / "part" / "test" / defect / f"{i:03d}.png"
            mask = root / "part" / "ground_truth" / defect / f"{i:03d}_mask.png"
            image.parent.mkdir(parents=True, exist_ok=True)
            mask.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(image)
            m = np.zeros((size, size), np.uint8)
            m[2:5, 3:6] = 255
            Image.fromarray(m).save(mask)
    good = root / "part" / "train" / "good"
    good.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(good / "000.png")
    return root


def _config(root: Path, **kw) -> DefectGenTrainConfig:
    return DefectGenTrainConfig(
        dataset="mvtec", root=root, object_name="part", size="cpu", resolution=16, **kw
    )


def test_caps_take_the_first_5_and_50_of_each_categorys_training_third(tmp_path) -> None:
    root = _write_mvtec(tmp_path / "ds", {"crack": 160, "dent": 9})
    data = resolve_defectgen_data(_config(root))
    # first third: crack 160 // 3 = 53, dent 3
    large = [(e.defect_name, e.image.name) for e in data.large]
    small = [(e.defect_name, e.image.name) for e in data.small]
    assert large == [("crack", f"{i:03d}.png") for i in range(5)] + [
        ("dent", f"{i:03d}.png") for i in range(3)
    ]
    assert small == [("crack", f"{i:03d}.png") for i in range(50)] + [
        ("dent", f"{i:03d}.png") for i in range(3)
    ]
    assert len(data.held_out) == (160 - 53) + (9 - 3)
    # binary categories become classes, in category order
    assert data.classes == {1: "crack", 2: "dent"} and data.num_channels == 3 + 1 + 2
    only_dent = resolve_defectgen_data(_config(root, defect_names=("dent",)))
    assert only_dent.classes == {1: "dent"} and len(only_dent.small) == 3


def test_demo_sample_is_rgb_then_one_hot_classes(tmp_path) -> None:
    data = resolve_defectgen_data(DefectGenTrainConfig(dataset="demo", size="cpu", resolution=32))
    assert data.classes == {1: "hole", 2: "scratch"}
    example = next(e for e in data.small if e.defect_name == "scratch")
    sample = encode_example(example, data.classes, 32).numpy()
    assert sample.shape == (3 + 1 + 2, 32, 32) and sample.dtype == np.float32
    image = np.asarray(Image.open(example.image).convert("RGB").resize((32, 32), Image.Resampling.LANCZOS))
    np.testing.assert_allclose(sample[:3], image.transpose(2, 0, 1) / 127.5 - 1.0, atol=1e-6)
    assert sample[:3].min() >= -1.0 and sample[:3].max() <= 1.0
    mask = np.asarray(
        Image.fromarray(example.load_mask().astype(np.uint8)).resize((32, 32), Image.Resampling.NEAREST)
    ).astype(bool)
    assert set(np.unique(sample[3:])) <= {0.0, 1.0}
    np.testing.assert_array_equal(sample[3:].sum(0), 1.0)  # exactly one class per pixel
    np.testing.assert_array_equal(sample[5].astype(bool), mask)  # channel 3 + 2: scratch
    np.testing.assert_array_equal(sample[3].astype(bool), ~mask)  # channel 3: background
    assert not sample[4].any()  # no hole in a scratch image


def test_multiclass_labels_are_mapped_through_their_names(tmp_path) -> None:
    labels = np.zeros((4, 4), np.uint8)
    labels[0, :2] = 1  # crack in the example's own table
    labels[3, 3] = 2  # scratch
    image_path, labels_path = tmp_path / "a.png", tmp_path / "a_labels.png"
    Image.fromarray(np.full((4, 4, 3), 255, np.uint8)).save(image_path)
    Image.fromarray(labels).save(labels_path)
    example = DefectExample(
        image=image_path,
        mask=labels_path,
        object_name="o",
        defect_name="combined",
        mask_threshold=1,
        labels=labels_path,
        classes={1: "crack", 2: "scratch"},
    )
    shared = {1: "scratch", 2: "crack"}  # another order: the names decide
    sample = encode_example(example, shared, 4).numpy()
    np.testing.assert_array_equal(sample[3 + 2], labels == 1)  # crack -> shared id 2
    np.testing.assert_array_equal(sample[3 + 1], labels == 2)  # scratch -> shared id 1
    np.testing.assert_array_equal(sample[3], labels == 0)
    assert shared_class_table([example]) == {1: "crack", 2: "scratch"}  # a shared 1..n table keeps its ids
    with pytest.raises(ValueError, match="'crack' is not in"):
        encode_example(example, {1: "scratch"}, 4)


def test_unknown_defect_name_is_named_with_the_available_ones(tmp_path) -> None:
    root = _write_mvtec(tmp_path / "ds", {"crack": 3})
    with pytest.raises(ValueError, match=r"unknown defect 'dnet'.*available: crack"):
        resolve_defectgen_data(_config(root, defect_names=("crack", "dnet")))
    with pytest.raises(ValueError, match=r"unknown object 'prat'"):
        resolve_defectgen_data(DefectGenTrainConfig(dataset="mvtec", root=root, object_name="prat"))


def test_category_without_training_images_is_named(tmp_path) -> None:
    root = _write_mvtec(tmp_path / "ds", {"crack": 6, "dent": 2})
    with pytest.raises(
        ValueError, match=r"no training images under the first-third split for dent \(2 example"
    ):
        resolve_defectgen_data(_config(root))


def test_object_without_defects_is_named(tmp_path) -> None:
    root = _write_mvtec(tmp_path / "ds", {})
    assert open_dataset("mvtec", root).defect_names("part") == []
    with pytest.raises(ValueError, match="'part'.*has no defect categories"):
        resolve_defectgen_data(_config(root))


def test_defect_names_accept_commas_and_refuse_repeats() -> None:
    assert DefectGenTrainConfig(defect_names=("hole,scratch",)).defect_names == ("hole", "scratch")
    assert DefectGenTrainConfig(defect_names=("hole", "scratch")).defect_names == ("hole", "scratch")
    with pytest.raises(ValueError, match="defect_names"):
        DefectGenTrainConfig(defect_names=("hole,hole",))
    with pytest.raises(ValueError, match="resolution"):
        DefectGenTrainConfig(size="paper", resolution=48)
