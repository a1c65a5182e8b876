"""Loading the base inpainting model: a hub id, a local folder, or ``builtin:<name>``, one code path."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from defect_core.errors import InputFileError
from defect_sample.builtin_models import builtin_model_path, is_builtin

logger = logging.getLogger(__name__)

INPAINT_UNET_CHANNELS = 9
# keys of a saved config that say nothing about the architecture
_VOLATILE_CONFIG_KEYS = {"_name_or_path", "_diffusers_version", "_commit_hash", "transformers_version",
                         "torch_dtype", "dtype", "_class_name", "architectures", "_use_default_values",
                         "_attn_implementation_autoset", "output_attentions", "output_hidden_states"}


class BaseModelError(InputFileError):
    """The base model cannot be used (not found, not an inpainting model, unreadable)."""


def _can_only_be_a_path(model: str) -> bool:
    """True if ``model`` cannot be a hub id (``name`` or ``owner/name``), so it must be a local folder."""
    return (Path(model).expanduser().is_absolute() or model.startswith((".", "~")) or model.count("/") > 1
            or "\\" in model)


def resolve_model_source(model: str | os.PathLike) -> str | Path:
    """A local folder (``builtin:<name>`` resolved to its cache folder) or a hub id, unchanged."""
    if is_builtin(str(model)):
        return builtin_model_path(str(model))
    path = Path(model).expanduser()
    if path.is_file():
        raise BaseModelError(path, "is a file; expected a diffusers pipeline folder (with model_index.json) "
                                   "or a hub id")
    if path.exists():
        if not (path / "model_index.json").is_file():
            raise BaseModelError(path, "folder has no model_index.json: not a diffusers pipeline folder")
        return path
    if isinstance(model, os.PathLike) or _can_only_be_a_path(str(model)):
        # without this, diffusers answers "neither a valid local path nor a valid repo id" plus a hub hint
        raise BaseModelError(path, "model folder does not exist")
    return str(model)


def _plain_config(config: Any) -> dict[str, Any]:
    data = dict(config.to_dict() if hasattr(config, "to_dict") else config)
    return {k: v for k, v in data.items() if k not in _VOLATILE_CONFIG_KEYS}


def model_fingerprint(unet_config: Any, text_encoder_config: Any) -> str:
    """A 16-hex-digit hash of the UNet and text-encoder architectures (not the weights).

    Two checkpoints of the same architecture share it: a concept is portable between them (as LoRA files
    are in practice), but not to a model whose layers differ in shape.
    """
    blob = json.dumps({"unet": _plain_config(unet_config), "text_encoder": _plain_config(text_encoder_config)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_inpainting_unet(unet: Any, model: str | os.PathLike) -> None:
    """Raise :class:`BaseModelError` unless the UNet takes 9 input channels (latent + mask + masked image)."""
    channels = unet.config.in_channels
    if channels != INPAINT_UNET_CHANNELS:
        raise BaseModelError(
            Path(str(model)),
            f"UNet takes {channels} input channels, an inpainting model takes {INPAINT_UNET_CHANNELS} "
            "(4 noisy latent + 1 mask + 4 masked-image latent); use an inpainting checkpoint such as "
            "Stable Diffusion 2 inpainting",
        )


def load_inpaint_pipeline(
    model: str | os.PathLike,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    local_files_only: bool | None = None,
):  # -> StableDiffusionInpaintPipeline
    """Load a Stable-Diffusion-style inpainting pipeline.

    ``model`` is a hub id (``"<user>/<repo>"``), a local diffusers folder, or ``builtin:tiny``. The UNet
    must take 9 channels. Offline (``HF_HUB_OFFLINE=1`` or no network), a hub id that is not in the local
    hub cache raises :class:`BaseModelError` saying so.
    """
    from diffusers import StableDiffusionInpaintPipeline

    source = resolve_model_source(model)
    kwargs: dict[str, Any] = {"torch_dtype": dtype, "safety_checker": None, "requires_safety_checker": False}
    if local_files_only is not None:
        kwargs["local_files_only"] = local_files_only
    try:
        pipe = StableDiffusionInpaintPipeline.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        hint = ("" if isinstance(source, Path) else
                "; it is not a local folder, and the hub did not provide it (offline? set HF_HOME to a cache "
                "that holds it, or pass the folder of a downloaded copy)")
        raise BaseModelError(Path(str(model)), f"cannot load an inpainting pipeline ({exc}){hint}") from exc
    check_inpainting_unet(pipe.unet, model)
    if dtype == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        # SD-family VAEs overflow in fp16 (NaN / black images); diffusers upcasts them around each decode,
        # we keep the small VAE in fp32 once: every encode / decode casts its input to the VAE's dtype
        pipe.vae.to(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
