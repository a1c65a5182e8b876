"""Where pretrained weights live, and the error raised when they are not there.

defect-metrics never downloads weights and never falls back to a random network: a missing file is an error
that names the file, where it goes and where to get it.

- Inception-v3 (KID, FID): clean-fid's TorchScript file ``inception-2015-12-05.pt``, in clean-fid's own
  cache (``/tmp`` on Linux and macOS, the working directory on Windows) or in torch's hub checkpoint folder.
- LPIPS backbones (IC-LPIPS): torchvision's ImageNet checkpoints in torch's hub cache
  (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``). The small LPIPS linear
  layers ship inside the ``lpips`` package and need no download.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

from defect_core.errors import DefectfillError

logger = logging.getLogger(__name__)

INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
)

#: LPIPS trunk name -> (torchvision checkpoint file, its download address).
LPIPS_BACKBONES: dict[str, tuple[str, str]] = {
    "alex": ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
    "squeeze": (
        "squeezenet1_1-b8a52dc0.pth",
        "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
    ),
}


class MissingWeightsError(DefectfillError, FileNotFoundError):
    """A pretrained weight file is not on disk; the message says which file, where it goes, where to get it."""

    def __init__(self, what: str, path: Path, url: str, searched: list[Path] | None = None) -> None:
        self.path = Path(path)
        self.url = url
        others = [p for p in (searched or []) if p != self.path]
        also = f" (also looked in: {', '.join(str(p) for p in others)})" if others else ""
        super().__init__(
            f"{what} weights not found: {self.path}{also}. defect-metrics does not download weights; "
            f"download {url} and save it as {self.path}, or pass its path explicitly."
        )


def clean_fid_cache_dir() -> Path:
    """The folder where clean-fid keeps its Inception file (its own choice: /tmp, or ./ on Windows)."""
    return Path("./") if platform.system() == "Windows" else Path("/tmp")


def torch_hub_checkpoints_dir() -> Path:
    """torch's hub checkpoint folder (follows ``$TORCH_HOME``), where torchvision caches its weights."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def inception_weights_path(explicit: str | Path | None = None) -> Path:
    """The Inception-v3 TorchScript file: ``explicit`` if given, else the first cache that has it."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MissingWeightsError("Inception-v3 (clean-fid TorchScript)", path, INCEPTION_URL)
        return path
    candidates = [clean_fid_cache_dir() / INCEPTION_FILE, torch_hub_checkpoints_dir() / INCEPTION_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingWeightsError(
        "Inception-v3 (clean-fid TorchScript)", candidates[0], INCEPTION_URL, candidates
    )


def lpips_backbone_path(net: str, explicit: str | Path | None = None) -> Path:
    """The torchvision checkpoint of LPIPS trunk ``net`` ('alex', 'vgg' or 'squeeze')."""
    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}")
    file_name, url = LPIPS_BACKBONES[net]
    path = Path(explicit).expanduser() if explicit is not None else torch_hub_checkpoints_dir() / file_name
    if not path.is_file():
        raise MissingWeightsError(f"LPIPS {net} backbone (torchvision ImageNet)", path, url)
    return path
