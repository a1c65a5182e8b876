"""Loading the base inpainting model: a hub id, a local folder, or ``builtin:<name>``, one code path."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from defect_core.concept_card import BaseModelRef
from defect_sample.base_model_error import BaseModelError
from defect_sample.builtin_models import builtin_model_path, is_builtin
from defect_sample.hub_download import fetch_pipeline_folder
from defect_sample.hub_ids import redirect_removed_id
from defect_sample.quiet_loading import library_progress_bars_off
from defect_sample.weights_fingerprint import weights_fingerprint

if TYPE_CHECKING:
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline


logger = logging.getLogger(__name__)

INPAINT_UNET_CHANNELS = 9
# keys of a saved config that say nothing about the architecture
_VOLATILE_CONFIG_KEYS = {
    "_name_or_path",
    "_diffusers_version",
    "_commit_hash",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "_class_name",
    "architectures",
    "_use_default_values",
    "_attn_implementation_autoset",
    "output_attentions",
    "output_hidden_states",
}

__all__ = [
    "BaseModelError",
    "LoadedBaseModel",
    "check_inpainting_unet",
    "folder_is_sdxl",
    "identify_pipeline",
    "is_sdxl",
    "load_base_model",
    "load_inpaint_pipeline",
    "model_fingerprint",
    "pipeline_fingerprint",
    "resolve_model_source",
]


def _can_only_be_a_path(model: str) -> bool:
    """True if ``model`` cannot be a hub id (``name`` or ``owner/name``), so it must be a local folder."""
    return (
        Path(model).expanduser().is_absolute()
        or model.startswith((".", "~"))
        or model.count("/") > 1
        or "\\" in model
    )


def resolve_model_source(model: str | os.PathLike) -> str | Path:
    """A local folder (``builtin:<name>`` resolved to its cache folder) or a hub id, unchanged."""
    if is_builtin(str(model)):
        return builtin_model_path(str(model))
    path = Path(model).expanduser()
    if path.is_file():
        raise BaseModelError(
            path, "is a file; expected a diffusers pipeline folder (with model_index.json) or a hub id"
        )
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


def model_fingerprint(unet_config: Any, text_encoder_config: Any, text_encoder_2_config: Any = None) -> str:
    """A 16-hex-digit hash of the UNet and text-encoder architectures (not the weights).

    Two checkpoints of the same architecture share it; with
    :func:`~defect_sample.weights_fingerprint.weights_fingerprint` it makes a base model's identity.
    ``text_encoder_2_config`` is SDXL's second encoder; without one the hash is what it always was, so the
    cards of Stable Diffusion concepts keep matching.
    """
    parts = {"unet": _plain_config(unet_config), "text_encoder": _plain_config(text_encoder_config)}
    if text_encoder_2_config is not None:
        parts["text_encoder_2"] = _plain_config(text_encoder_2_config)
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pipeline_fingerprint(pipe) -> str:
    """:func:`model_fingerprint` of a loaded pipeline: its UNet and text encoder(s)."""
    second = getattr(pipe, "text_encoder_2", None)
    return model_fingerprint(
        pipe.unet.config, pipe.text_encoder.config, None if second is None else second.config
    )


def is_sdxl(pipe) -> bool:
    """True for an SDXL pipeline (two text encoders, pooled and size conditioning), False for Stable
    Diffusion 1 / 2."""
    return getattr(pipe, "text_encoder_2", None) is not None


def folder_is_sdxl(folder: Path) -> bool:
    """True if the diffusers folder's ``model_index.json`` lists a second text encoder (an SDXL pipeline)."""
    try:
        index = json.loads((Path(folder) / "model_index.json").read_text())
    except (OSError, ValueError) as exc:
        raise BaseModelError(Path(folder) / "model_index.json", f"cannot be read ({exc})") from exc
    entry = index.get("text_encoder_2")
    return isinstance(entry, list) and entry[:1] != [None]


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


@dataclass(frozen=True)
class LoadedBaseModel:
    """A loaded inpainting pipeline, its identity (what was asked for, what was loaded, at which hub commit,
    architecture and weights fingerprints) and the folder its files came from."""

    pipe: Any  # StableDiffusionInpaintPipeline
    ref: BaseModelRef
    folder: Path


def _dtype_argument(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """``from_pretrained``'s dtype keyword: diffusers 0.42 renamed ``torch_dtype`` to ``dtype`` and warns
    (FutureWarning) on the old name; older versions know only ``torch_dtype``."""
    try:
        major_minor = tuple(int(p) for p in re.findall(r"\d+", version("diffusers"))[:2])
    except PackageNotFoundError:
        major_minor = (0, 0)
    return {"dtype": dtype} if major_minor >= (0, 42) else {"torch_dtype": dtype}


def identify_pipeline(
    pipe,
    requested: str,
    *,
    loaded: str | None = None,
    revision: str | None = None,
    folder: str | os.PathLike | None = None,
) -> BaseModelRef:
    """The :class:`BaseModelRef` of a loaded pipeline, computed before any LoRA is added.

    The weights fingerprint is read from ``folder`` (default: the folder the pipeline was loaded from, when
    diffusers recorded one); without one, ``weights_fingerprint`` is ``None``.
    """
    weights = None
    if folder is not None:
        weights = weights_fingerprint(folder)
    else:
        name = getattr(pipe, "name_or_path", None)
        if name and Path(name).is_dir():
            try:
                weights = weights_fingerprint(name)
            except (
                OSError,
                ValueError,
                KeyError,
            ) as exc:  # a folder changed since: compare architectures only
                logger.debug("%s: no weights fingerprint (%s)", name, exc)
    return BaseModelRef(
        id=requested,
        fingerprint=pipeline_fingerprint(pipe),
        weights_fingerprint=weights,
        loaded=loaded,
        revision=revision,
    )


def _pipeline_from_folder(folder: Path, dtype: torch.dtype, model: str | os.PathLike):
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline

    kwargs: dict[str, Any] = _dtype_argument(dtype)
    if folder_is_sdxl(folder):
        # no invisible watermark: DIAG's environment had none installed, and it would alter the pixels
        pipeline_class: Any = StableDiffusionXLInpaintPipeline
        kwargs["add_watermarker"] = False
    else:
        pipeline_class = StableDiffusionInpaintPipeline
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        with library_progress_bars_off():
            return pipeline_class.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        where = "" if str(folder) == str(model) else f" from {folder}"
        raise BaseModelError(Path(str(model)), f"cannot load an inpainting pipeline{where} ({exc})") from exc


def load_base_model(
    model: str | os.PathLike,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    revision: str | None = None,
    local_files_only: bool | None = None,
    progress: bool = True,
) -> LoadedBaseModel:
    """Load a Stable Diffusion (1 / 2) or SDXL inpainting pipeline and say exactly which model it is.

    ``model`` is a hub id (``"<owner>/<name>"``), a local diffusers folder, or ``builtin:<name>``. A hub id
    that was removed from the hub is loaded from its mirror (:mod:`defect_sample.hub_ids`, one
    :class:`~defect_sample.hub_ids.RemovedHubIdWarning`); ``revision`` pins a hub branch, tag or commit.
    Any hub failure raises :class:`~defect_sample.hub_errors.HubModelError` (a :class:`BaseModelError`) in one
    line with what to do; offline (``HF_HUB_OFFLINE=1``), only the hub cache is asked. ``progress`` shows
    download bars (loading from disk never draws any). The UNet must take 9 channels. A folder whose
    ``model_index.json`` lists ``text_encoder_2`` loads as ``StableDiffusionXLInpaintPipeline``, any other
    as ``StableDiffusionInpaintPipeline``.
    """
    requested = str(model)
    source = resolve_model_source(model)
    if isinstance(source, Path):
        if revision:
            raise BaseModelError(
                source,
                f"--base-model-revision {revision!r} applies to hub ids, not to a local "
                "folder or builtin model",
            )
        folder, commit = source, None
        loaded = requested if is_builtin(requested) else str(source.resolve())
    else:
        loaded = redirect_removed_id(source)
        snapshot = fetch_pipeline_folder(
            loaded, revision=revision, local_files_only=local_files_only, progress=progress, asked_for=source
        )
        folder, commit = snapshot.folder, snapshot.commit
    logger.info("loading base model %s%s", loaded, f" (commit {commit})" if commit else "")
    pipe = _pipeline_from_folder(folder, dtype, model)
    check_inpainting_unet(pipe.unet, model)
    ref = identify_pipeline(pipe, requested, loaded=loaded, revision=commit, folder=folder)
    if dtype == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        # SD-family VAEs overflow in fp16 (NaN / black images); diffusers upcasts them around each decode,
        # we keep the small VAE in fp32 once: every encode / decode casts its input to the VAE's dtype
        pipe.vae.to(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return LoadedBaseModel(pipe=pipe.to(device), ref=ref, folder=Path(folder))


def load_inpaint_pipeline(
    model: str | os.PathLike,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    revision: str | None = None,
    local_files_only: bool | None = None,
    progress: bool = True,
) -> StableDiffusionInpaintPipeline | StableDiffusionXLInpaintPipeline:
    """:func:`load_base_model`'s pipeline alone: a stock diffusers ``StableDiffusionInpaintPipeline``, or
    ``StableDiffusionXLInpaintPipeline`` for an SDXL model (``builtin:tiny-xl``, SDXL inpainting 0.1)."""
    return load_base_model(
        model,
        dtype=dtype,
        device=device,
        revision=revision,
        local_files_only=local_files_only,
        progress=progress,
    ).pipe
