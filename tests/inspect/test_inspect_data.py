"""Data of defect-inspect: generation outputs, real splits, validation split, class balance, tensors."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from inspect_helpers import DEFECTS, OBJECT
from PIL import Image

from defect_core.datasets import open_dataset
from defect_core.datasets.splits import select_split
from defect_core.errors import DatasetError, InputFileError
from defect_core.images import load_mask
from defect_inspect import InspectionItem, balance_classes, read_generation_output, stratified_split
from defect_inspect.data.assemble import evaluation_items, training_items
from defect_inspect.data.torch_dataset import InspectionDataset, image_to_tensor, tensor_to_image


def test_generation_output_labels_come_from_the_manifest(generated_dir: Path) -> None:
    items = read_generation_output(generated_dir)
    assert Counter(i.label for i in items) == {"square": 12, "stripe": 12}
    assert all(i.source == "generated" and i.is_defect for i in items)
    for item in items:
        # the stem encodes the defect the helper painted, independently of the manifest's defect_name
        assert item.image.stem.startswith(item.label)
        assert item.mask == generated_dir / "mask" / f"{item.image.stem}.png"


def test_folder_without_manifest_takes_the_folder_name_or_the_given_name(
    tmp_path: Path, generated_dir: Path
) -> None:
    folder = tmp_path / "crack"
    shutil.copytree(generated_dir, folder)
    (folder / "manifest.jsonl").unlink()
    assert {i.label for i in read_generation_output(folder)} == {"crack"}
    assert {i.label for i in read_generation_output(folder, defect_name="dent")} == {"dent"}
    assert len(read_generation_output(folder)) == 24


def test_generation_output_bad_inputs_name_the_files(tmp_path: Path, generated_dir: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_generation_output(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputFileError, match="defect/ and mask/"):
        read_generation_output(tmp_path / "plain")

    broken = tmp_path / "broken"
    shutil.copytree(generated_dir, broken)
    (broken / "mask" / "square_00003.png").unlink()
    Image.new("L", (20, 20), 255).save(broken / "mask" / "stripe_00001.png")
    with pytest.raises(DatasetError) as info:
        read_generation_output(broken)
    text = str(info.value)
    assert "square_00003.png" in text and "missing" in text
    assert "stripe_00001.png" in text and "20x20" in text

    no_manifest = tmp_path / "no_manifest"
    shutil.copytree(broken, no_manifest)
    (no_manifest / "manifest.jsonl").unlink()
    with pytest.raises(DatasetError, match="square_00003.png: has no mask"):
        read_generation_output(no_manifest)


def test_real_split_is_defect_cores_split(synthetic_root: Path) -> None:
    reader = open_dataset("mvtec", synthetic_root)
    test = evaluation_items(reader, OBJECT)
    for defect in DEFECTS:
        held_out = select_split(reader.defect_examples(OBJECT, defect), "held_out")
        assert [i.image for i in test if i.label == defect] == [e.image for e in held_out]
        assert len(held_out) == 6  # 9 pairs: the first 3 train
    assert sum(not i.is_defect for i in test) == 3

    train = training_items(reader=reader, object_name=OBJECT, real_train=True)
    assert Counter(i.label for i in train) == {"square": 3, "stripe": 3, "good": 8}
    assert not {i.image for i in train} & {i.image for i in test}


def test_training_items_filter_defects_and_need_defects(generated_dir: Path, synthetic_root: Path) -> None:
    reader = open_dataset("mvtec", synthetic_root)
    items = training_items([generated_dir], reader=reader, object_name=OBJECT, defects=["stripe"])
    assert Counter(i.label for i in items) == {"stripe": 12, "good": 8}
    with pytest.raises(ValueError, match="no defect images to train on"):
        training_items([], reader=reader, object_name=OBJECT)
    with pytest.raises(ValueError, match="unknown defect 'crack'"):
        evaluation_items(reader, OBJECT, defects=["crack"])


def test_stratified_split_takes_a_share_of_each_class() -> None:
    items = [("a", i) for i in range(20)] + [("b", i) for i in range(7)] + [("c", 0)]
    train, val = stratified_split(items, key=lambda x: x[0], fraction=0.3, seed=3)
    assert Counter(x[0] for x in val) == {
        "a": 6,
        "b": 2,
    }  # round(0.3 * 20), round(0.3 * 7); c keeps its only one
    assert sorted(train + val) == sorted(items)
    assert not set(train) & set(val)
    assert stratified_split(items, lambda x: x[0], 0.3, 3) == (train, val)
    assert stratified_split(items, lambda x: x[0], 0.0, 3) == (items, [])
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(items, lambda x: x[0], 1.0, 0)


@pytest.mark.parametrize("mode", ["oversample", "undersample"])
def test_balance_classes(mode: str) -> None:
    items = [("a", i) for i in range(10)] + [("b", i) for i in range(3)] + [("c", i) for i in range(5)]
    balanced = balance_classes(items, lambda x: x[0], mode, seed=0)
    counts = Counter(x[0] for x in balanced)
    assert set(counts.values()) == ({10} if mode == "oversample" else {3})
    assert set(balanced) <= set(items)
    if mode == "oversample":
        assert set(balanced) == set(items)  # nothing is lost
    assert balance_classes(items, lambda x: x[0], "none", 0) == items
    with pytest.raises(ValueError, match="balance mode"):
        balance_classes(items, lambda x: x[0], "smote", 0)  # type: ignore[arg-type]


def test_inspection_item_checks_its_fields(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source"):
        InspectionItem(tmp_path / "a.png", tmp_path / "m.png", "crack", "internet")
    with pytest.raises(ValueError, match="a 'good' item has no mask"):
        InspectionItem(tmp_path / "a.png", tmp_path / "m.png", "good", "normal")
    with pytest.raises(ValueError, match="defect item has one"):
        InspectionItem(tmp_path / "a.png", None, "crack", "real")


def test_dataset_mask_downscaling_keeps_thin_defects(tmp_path: Path) -> None:
    mask = np.zeros((128, 96), dtype=bool)
    mask[40, 10:90] = True  # a 1-pixel scratch, shrunk 4 x 3 onto 32 x 32
    Image.new("RGB", (96, 128)).save(tmp_path / "a.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "m.png")
    dataset = InspectionDataset(
        [InspectionItem(tmp_path / "a.png", tmp_path / "m.png", "crack", "real")], ["crack"], 32
    )
    small = dataset[0]["mask"]
    assert small.shape == (1, 32, 32) and small.dtype == torch.float32
    # brute force: a target cell is defect when any of the 4 x 3 source pixels under it is
    expected = mask.reshape(32, 4, 32, 3).any(axis=(1, 3))
    np.testing.assert_array_equal(small[0].numpy(), expected.astype(np.float32))
    assert expected.sum() == 27  # columns 10..89 touch cells 3..29


def test_image_tensor_is_normalised_and_reversible() -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    tensor = image_to_tensor(image, 32)
    assert tensor.shape == (3, 32, 32) and tensor.dtype == torch.float32
    manual = (np.asarray(image, np.float32) / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array(
        [0.229, 0.224, 0.225]
    )
    np.testing.assert_allclose(tensor.numpy().transpose(1, 2, 0), manual, rtol=1e-5, atol=1e-5)
    assert np.abs(np.asarray(tensor_to_image(tensor), np.int16) - np.asarray(image, np.int16)).max() <= 1


def test_dataset_yields_labels_masks_and_defect_flags(generated_dir: Path, synthetic_root: Path) -> None:
    reader = open_dataset("mvtec", synthetic_root)
    items = training_items([generated_dir], reader=reader, object_name=OBJECT)
    dataset = InspectionDataset(items, ["square", "stripe"], 16)
    for index in (0, len(items) - 1):
        sample = dataset[index]
        item = items[index]
        assert sample["image"].shape == (3, 16, 16) and sample["mask"].shape == (1, 16, 16)
        assert int(sample["label"]) == {"square": 0, "stripe": 1}.get(item.label, -1)
        assert float(sample["defect"]) == float(item.is_defect)
        full = item.load_mask((32, 32))
        np.testing.assert_array_equal(
            sample["mask"][0].numpy() > 0, full.reshape(16, 2, 16, 2).any(axis=(1, 3))
        )
    mask_path = items[0].mask
    assert mask_path is not None and load_mask(mask_path).any()
