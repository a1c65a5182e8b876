"""Every bad input gets an error that names the file (or lists the choices) and the problem."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.errors import DatasetError
from defect_sample.builtin_models import builtin_model_path
from defect_sample.model_loading import BaseModelError
from defect_train.trainer import train_concept


def _folder_dataset(root: Path, masks: dict[str, np.ndarray], size: int = 64) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for stem, mask in masks.items():
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
            root / "images" / f"{stem}.png"
        )
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{stem}.png")
    return root


def _good_mask(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[10:20, 10:30] = True
    return mask


def _folder_config(config, root: Path):
    return replace(config, dataset="folder", root=root, object_name="plate", defect_name="dent", split="all")


def test_non_inpainting_base_model_is_refused(fast_config, tmp_path) -> None:
    from diffusers import UNet2DConditionModel

    folder = tmp_path / "four-channel"
    shutil.copytree(builtin_model_path("builtin:tiny"), folder)
    config = json.loads((folder / "unet" / "config.json").read_text())
    config["in_channels"] = 4
    unet = UNet2DConditionModel.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    unet.save_pretrained(folder / "unet")
    with pytest.raises(BaseModelError, match=r"four-channel.*4 input channels.*inpainting"):
        train_concept(replace(fast_config, base_model=str(folder)))


def test_sdxl_base_model_is_refused_by_defectfill_training(fast_config) -> None:
    with pytest.raises(
        BaseModelError, match=r"builtin:tiny-xl.*SDXL inpainting model.*Stable Diffusion 1 / 2"
    ):
        train_concept(replace(fast_config, base_model="builtin:tiny-xl"))
    assert not (fast_config.output_dir / "concept.safetensors").exists()


def test_empty_mask_and_size_mismatch_are_listed_with_their_files(fast_config, tmp_path) -> None:
    root = _folder_dataset(tmp_path / "data", {"a": _good_mask(), "b": np.zeros((64, 64), bool)})
    Image.new("L", (32, 32), 255).save(root / "masks" / "a.png")  # mask of another size than its image
    with pytest.raises(DatasetError) as info:
        train_concept(_folder_config(fast_config, root))
    text = str(info.value)
    assert "b.png" in text and "empty" in text
    assert "a.png" in text and "size" in text


def test_all_ones_mask_is_refused(fast_config, tmp_path) -> None:
    root = _folder_dataset(tmp_path / "data", {"a": _good_mask(), "full": np.ones((64, 64), bool)})
    with pytest.raises(DatasetError, match=r"full\.png.*whole image"):
        train_concept(_folder_config(fast_config, root))


def test_unknown_object_or_defect_lists_the_available_ones(fast_config) -> None:
    with pytest.raises(ValueError, match=r"unknown object 'bottle'.*brick.*gravel"):
        train_concept(replace(fast_config, object_name="bottle"))
    with pytest.raises(ValueError, match=r"unknown defect 'crack'.*hole.*scratch"):
        train_concept(replace(fast_config, defect_name="crack"))


def test_fewer_examples_than_batch_size_samples_with_replacement(fast_config, tmp_path, caplog) -> None:
    root = _folder_dataset(tmp_path / "data", {"only": _good_mask()})
    with caplog.at_level(logging.INFO, logger="defect_train"):
        concept = train_concept(replace(_folder_config(fast_config, root), steps=1, batch_size=3))
    assert concept.is_file()
    assert any("with replacement" in r.getMessage() for r in caplog.records)


def test_config_validation_names_the_field() -> None:
    from defect_train.config import TrainConfig

    with pytest.raises(ValueError, match=r"TrainConfig.resolution=100"):
        TrainConfig(resolution=100)
    with pytest.raises(ValueError, match=r"TrainConfig.root=None"):
        TrainConfig(dataset="mvtec")
