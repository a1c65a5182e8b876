"""The pretrained weight files defectfill reads, where their caches are, and where each file must be.

One table for every package: clean-fid's Inception-v3 (KID, FID) and torchvision's ImageNet trunks of LPIPS
(IC-LPIPS in defect-metrics, Low-Fidelity Selection in defect-sample). The files are never downloaded here:
a missing one raises :class:`~defect_core.errors.MissingWeightsError` naming the file, where it goes and
where to get it. Everything here is paths and dictionaries, so defect-core stays free of torch; the torch
packages build the networks and hand ``torch.load`` to :func:`load_lpips_trunk`, the one reader of an LPIPS
trunk checkpoint.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defect_core.errors import InputFileError, MissingWeightsError


@dataclass(frozen=True)
class WeightFile:
    """One pretrained file: what it is (for messages), its file name in the cache, its download address."""

    what: str
    file_name: str
    url: str


INCEPTION = WeightFile(
    "Inception-v3 (clean-fid TorchScript)",
    "inception-2015-12-05.pt",
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
)

#: LPIPS trunk name -> torchvision's ImageNet checkpoint of that trunk (in torch's hub cache).
LPIPS_BACKBONES: dict[str, WeightFile] = {
    net: WeightFile(
        f"LPIPS {net} backbone (torchvision ImageNet)",
        file_name,
        f"https://download.pytorch.org/models/{file_name}",
    )
    for net, file_name in (
        ("alex", "alexnet-owt-7be5be79.pth"),
        ("vgg", "vgg16-397923af.pth"),
        ("squeeze", "squeezenet1_1-b8a52dc0.pth"),
    )
}


def torch_hub_checkpoints_dir() -> Path:
    """torch's hub checkpoint folder, where torchvision (and timm's ``tv_in1k`` tags) cache weights.

    The same folder as ``Path(torch.hub.get_dir()) / "checkpoints"`` without importing torch:
    ``$TORCH_HOME/hub/checkpoints``, ``$TORCH_HOME`` defaulting to ``$XDG_CACHE_HOME/torch`` and that to
    ``~/.cache/torch``. When torch is already imported its own answer is taken, which also follows
    ``torch.hub.set_dir``.
    """
    hub = sys.modules.get("torch.hub")
    if hub is not None:
        return Path(hub.get_dir()) / "checkpoints"
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


def torch_hub_file(url: str) -> Path:
    """Where torch's hub cache keeps the file downloaded from ``url`` (its last path component)."""
    return torch_hub_checkpoints_dir() / os.path.basename(url)


def clean_fid_cache_dir() -> Path:
    """The folder where clean-fid keeps its Inception file (its own choice: /tmp, or ./ on Windows)."""
    return Path("./") if platform.system() == "Windows" else Path("/tmp")


def inception_weights_path(explicit: str | Path | None = None) -> Path:
    """The Inception-v3 TorchScript file: ``explicit`` if given, else the first of clean-fid's cache and torch's
    hub cache that has it; :class:`MissingWeightsError` otherwise."""
    never = "defectfill never downloads it"
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MissingWeightsError(INCEPTION.what, path, INCEPTION.url, reason=never)
        return path
    candidates = [
        clean_fid_cache_dir() / INCEPTION.file_name,
        torch_hub_checkpoints_dir() / INCEPTION.file_name,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingWeightsError(INCEPTION.what, candidates[0], INCEPTION.url, reason=never, searched=candidates)


def lpips_backbone_path(
    net: str, explicit: str | Path | None = None, *, way_out: str = "pass its path explicitly"
) -> Path:
    """The torchvision checkpoint of LPIPS trunk ``net`` ('alex', 'vgg' or 'squeeze'): ``explicit`` if given,
    else torch's hub cache file; :class:`MissingWeightsError` (ending with ``way_out``) when it is missing."""
    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}")
    weights = LPIPS_BACKBONES[net]
    path = (
        Path(explicit).expanduser()
        if explicit is not None
        else torch_hub_checkpoints_dir() / weights.file_name
    )
    if not path.is_file():
        raise MissingWeightsError(
            weights.what, path, weights.url, reason="defectfill never downloads it", way_out=way_out
        )
    return path


def load_lpips_trunk(trunk: Any, path: str | Path, torch_load: Callable[..., Any]) -> None:
    """Load torchvision's ImageNet checkpoint at ``path`` into an LPIPS trunk (``lpips.LPIPS(...).net``).

    lpips keeps torchvision's ``features[i]`` modules under their original index, so checkpoint tensor
    ``features.<i>.<param>`` becomes trunk tensor ``slice<k>.<i>.<param>``. ``torch_load`` is ``torch.load``,
    passed in because defect-core does not import torch; the file is read with ``weights_only=True`` (no
    code is unpickled). A file that cannot be read, is not a state dict, or lacks one of the trunk's tensors
    or has it in another shape is not this trunk's checkpoint: :class:`InputFileError` naming ``path``.
    """
    path = Path(path)
    try:
        checkpoint = torch_load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt or foreign file
        raise InputFileError(path, f"cannot be read as a torch checkpoint ({exc})") from exc
    if not isinstance(checkpoint, Mapping):
        raise InputFileError(path, f"holds a {type(checkpoint).__name__}, not a state dict")
    mapped = {}
    for key, current in trunk.state_dict().items():
        parts = key.split(".")
        if len(parts) != 3 or not parts[0].startswith("slice"):
            raise ValueError(f"unexpected LPIPS trunk parameter {key!r}")
        source = f"features.{parts[1]}.{parts[2]}"
        if source not in checkpoint:
            raise InputFileError(
                path, f"has no {source!r}: not the torchvision checkpoint of this LPIPS trunk"
            )
        if tuple(checkpoint[source].shape) != tuple(current.shape):
            raise InputFileError(
                path,
                f"{source} has shape {tuple(checkpoint[source].shape)}, expected "
                f"{tuple(current.shape)}: not the torchvision checkpoint of this LPIPS trunk",
            )
        mapped[key] = checkpoint[source]
    trunk.load_state_dict(mapped)
