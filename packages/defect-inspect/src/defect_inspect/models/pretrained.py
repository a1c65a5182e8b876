"""ImageNet weights from the caches of timm / smp (the Hugging Face hub cache) and torchvision (torch hub).

A cached file is used as it is, without any network access. A missing file is downloaded by the library
that owns it, unless the machine is offline (``HF_HUB_OFFLINE=1`` or ``DEFECTFILL_OFFLINE=1``) or the
download fails: then :class:`~defect_core.errors.MissingWeightsError` names the file, where it goes, and the way out
(``--weights FILE`` or ``--no-pretrained``). Nothing ever falls back silently to random weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from defect_core.errors import InputFileError, MissingWeightsError
from defect_core.weight_files import torch_hub_file

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
WAY_OUT = "pass the file with --weights FILE, or train from random weights with --no-pretrained"
"""What :class:`~defect_core.errors.MissingWeightsError` tells the user to do instead (the CLI's flags)."""
OFFLINE = "offline: HF_HUB_OFFLINE / DEFECTFILL_OFFLINE is set"


def missing_weights(what: str, location: str | Path | None, source: str, reason: str) -> MissingWeightsError:
    """The error for ImageNet weights of ``what`` that are neither cached nor downloadable."""
    return MissingWeightsError(
        f"{what}: pretrained ImageNet", location, source, reason=reason, way_out=WAY_OUT
    )


def offline() -> bool:
    """True when downloads are off: ``HF_HUB_OFFLINE`` or ``DEFECTFILL_OFFLINE`` is set to 1 / true."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "DEFECTFILL_OFFLINE")
    )


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ``~/.cache/huggingface/hub``)."""
    explicit = os.environ.get("HF_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "huggingface") / "hub"


def hf_cached_file(repo_id: str, filenames: tuple[str, ...], revision: str | None = None) -> Path | None:
    """The first of ``filenames`` that the hub cache holds for ``repo_id`` (at ``revision``), else ``None``."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=hf_cache_dir(), revision=revision)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def hf_location(repo_id: str, filename: str, revision: str | None = None) -> str:
    """Where the hub cache keeps ``filename`` of ``repo_id``, for messages."""
    folder = hf_cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return str(folder / (revision or "<revision>") / filename)


def hf_weights(
    what: str, repo_id: str, filenames: tuple[str, ...] = ("model.safetensors",), revision: str | None = None
) -> Path:
    """A weights file of a hub repository: from the cache, or downloaded when online."""
    cached = hf_cached_file(repo_id, filenames, revision)
    if cached is not None:
        logger.info("%s: using cached weights %s", what, cached)
        return cached
    location = hf_location(repo_id, filenames[0], revision)
    source = f"'huggingface-cli download {repo_id} {filenames[0]}" + (
        f" --revision {revision}'" if revision else "'"
    )
    if offline():
        raise missing_weights(what, location, source, OFFLINE)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filenames[0], revision=revision, cache_dir=hf_cache_dir()))
    except Exception as exc:  # any transport or hub error means the same thing to the user
        raise missing_weights(what, location, source, f"download failed: {exc}") from exc


def torch_hub_weights(what: str, url: str) -> Path:
    """A torchvision checkpoint in torch's hub cache (``$TORCH_HOME/hub/checkpoints``), downloaded when online."""
    import torch.hub

    path = torch_hub_file(url)
    if path.is_file():
        logger.info("%s: using cached weights %s", what, path)
        return path
    if offline():
        raise missing_weights(what, path, url, OFFLINE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), progress=True)
    except Exception as exc:  # any transport error means the same thing to the user
        raise missing_weights(what, path, url, f"download failed: {exc}") from exc
    return path


def explicit_weights(path: str | Path) -> Path:
    """A weights file the user named (``--weights``); raise ``InputFileError`` if it does not exist."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputFileError(path, "weights file does not exist")
    return path


def load_state_dict_file(path: str | Path) -> dict:
    """A state dict from ``.safetensors`` or a torch checkpoint (read with ``weights_only``; never unpickles code)."""
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: name it
        raise InputFileError(path, f"cannot be read as weights ({exc.__class__.__name__}: {exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputFileError(path, f"holds a {type(state).__name__}, not a state dict")
    return state
