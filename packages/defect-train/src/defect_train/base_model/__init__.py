"""A small Stable-Diffusion-style inpainting base model trained here on real surface photographs (issue 7).

Two stages and an export, each a typed library function (the CLI is ``python -m defect_train.base_model``):
:func:`train_vae` (``VaeStageConfig``), :func:`train_unet` (``UnetStageConfig``) and
:func:`export_pipeline` (``ExportConfig``), which writes a diffusers inpainting pipeline folder.
Torch-heavy modules are imported on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from defect_train.base_model.config import ExportConfig, UnetStageConfig, VaeStageConfig

if TYPE_CHECKING:
    from defect_train.base_model.stage_loop import StageResult


def train_vae(config: VaeStageConfig) -> StageResult:
    """Stage 1; see :func:`defect_train.base_model.vae_stage.train_vae`."""
    from defect_train.base_model.vae_stage import train_vae as _train_vae

    return _train_vae(config)


def train_unet(config: UnetStageConfig) -> StageResult:
    """Stage 2; see :func:`defect_train.base_model.unet_stage.train_unet`."""
    from defect_train.base_model.unet_stage import train_unet as _train_unet

    return _train_unet(config)


def export_pipeline(config: ExportConfig) -> Path:
    """See :func:`defect_train.base_model.export.export_pipeline`."""
    from defect_train.base_model.export import export_pipeline as _export_pipeline

    return _export_pipeline(config)


__all__ = ["ExportConfig", "UnetStageConfig", "VaeStageConfig", "export_pipeline", "train_unet", "train_vae"]
