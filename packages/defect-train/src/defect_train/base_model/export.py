"""Assemble the trained stages into a diffusers ``StableDiffusionInpaintPipeline`` folder.

The folder loads through the same ``from_pretrained`` path as a hub model
(:func:`defect_sample.model_loading.load_inpaint_pipeline`); weights are safetensors, fp16 by default
(half the size, which the issue's 15 MB budget wants). The stage configs are copied beside it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from defect_core.errors import InputFileError
from defect_train.base_model.architecture import inference_scheduler
from defect_train.base_model.config import ExportConfig
from defect_train.base_model.model_folders import write_folder_atomic
from defect_train.base_model.unet_stage import (
    EMA_UNET_FOLDER,
    TEXT_ENCODER_FOLDER,
    TOKENIZER_FOLDER,
    UNET_FOLDER,
)

logger = logging.getLogger(__name__)

DTYPES = {"fp16": torch.float16, "fp32": torch.float32}


def _need_folder(folder: Path, what: str) -> Path:
    if not (folder / "config.json").is_file() and not (folder / "vocab.json").is_file():
        raise InputFileError(folder, f"missing or incomplete ({what}); did its training stage finish?")
    return folder


def export_pipeline(config: ExportConfig) -> Path:
    """Write the inpainting pipeline folder ``config.output`` (atomically) and return it."""
    from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    unet_dir = Path(config.unet_dir)
    vae = AutoencoderKL.from_pretrained(_need_folder(Path(config.vae_dir), "trained VAE"))
    unet = UNet2DConditionModel.from_pretrained(
        _need_folder(unet_dir / (EMA_UNET_FOLDER if config.use_ema else UNET_FOLDER), "trained UNet")
    )
    text_encoder = CLIPTextModel.from_pretrained(_need_folder(unet_dir / TEXT_ENCODER_FOLDER, "text encoder"))
    tokenizer = CLIPTokenizer.from_pretrained(_need_folder(unet_dir / TOKENIZER_FOLDER, "tokenizer"))
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=inference_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(dtype=DTYPES[config.dtype])

    def write(tmp: Path) -> None:
        pipe.save_pretrained(tmp, safe_serialization=True)
        recipe = tmp / "training"
        recipe.mkdir()
        for name, source in (
            ("vae_stage.toml", Path(config.vae_dir).parent / "config.toml"),
            ("unet_stage.toml", unet_dir / "config.toml"),
        ):
            if source.is_file():
                shutil.copyfile(source, recipe / name)

    write_folder_atomic(Path(config.output), write)
    logger.info("exported the inpainting pipeline to %s", config.output)
    return Path(config.output)
