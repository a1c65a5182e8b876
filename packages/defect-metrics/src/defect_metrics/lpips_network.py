"""The LPIPS network (Zhang et al. 2018) with its ImageNet trunk read from torchvision's hub cache.

``lpips.LPIPS`` would fetch the trunk through torchvision (a download when it is not cached, and a
deprecated API). Here the network is built with a random trunk and the trunk's weights are then copied from
the cached torchvision checkpoint, so nothing is downloaded and a missing file is a clear error. The linear
calibration layers ship inside the ``lpips`` package.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import torch

from defect_core.errors import InputFileError
from defect_metrics.weights import LPIPS_BACKBONES, lpips_backbone_path

logger = logging.getLogger(__name__)

_SLICE_KEY = re.compile(r"^slice\d+\.(\d+)\.(.+)$")


def _build(net: str) -> torch.nn.Module:
    import lpips

    with warnings.catch_warnings():
        # lpips passes torchvision's deprecated ``pretrained=False``; the trunk is random here on purpose.
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(pretrained=True, net=net, pnet_rand=True, verbose=False)


def load_trunk_weights(network: torch.nn.Module, checkpoint: str | Path) -> None:
    """Copy a torchvision checkpoint (``features.<i>.<param>``) into LPIPS' trunk (``slice<k>.<i>.<param>``)."""
    checkpoint = Path(checkpoint)
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        raise InputFileError(checkpoint, f"cannot be read as a torch checkpoint ({exc})") from exc
    if not isinstance(state, dict):
        raise InputFileError(checkpoint, f"holds a {type(state).__name__}, not a state dict")
    trunk = network.net
    mapped = {}
    for key, current in trunk.state_dict().items():
        match = _SLICE_KEY.match(key)
        if match is None:
            raise ValueError(f"unexpected LPIPS trunk parameter {key!r}")
        source = f"features.{match.group(1)}.{match.group(2)}"
        if source not in state:
            raise InputFileError(
                checkpoint, f"has no {source!r}: not the torchvision checkpoint of this trunk"
            )
        if state[source].shape != current.shape:
            raise InputFileError(
                checkpoint,
                f"{source} has shape {tuple(state[source].shape)}, expected {tuple(current.shape)}",
            )
        mapped[key] = state[source]
    trunk.load_state_dict(mapped)


def load_lpips(
    net: str = "alex",
    *,
    device: str | torch.device = "cpu",
    random_backbone: bool = False,
    backbone_weights: str | Path | None = None,
) -> torch.nn.Module:
    """An ``lpips.LPIPS`` network (version 0.1, calibrated linear layers) in eval mode on ``device``.

    ``net``: 'alex' (default, as DFMGAN), 'vgg' or 'squeeze'. The trunk's ImageNet weights come from
    ``backbone_weights`` or torchvision's hub cache; a missing file raises
    :class:`defect_metrics.weights.MissingWeightsError`. ``random_backbone=True`` keeps a random trunk, for
    tests and benchmarks only (its distances mean nothing perceptually).
    """
    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}")
    if random_backbone:
        logger.warning("LPIPS with a random %s trunk: for tests and benchmarks only", net)
        network = _build(net)
    else:
        path = lpips_backbone_path(net, backbone_weights)
        network = _build(net)
        load_trunk_weights(network, path)
        logger.info("LPIPS %s trunk weights from %s", net, path)
    return network.to(device).eval().requires_grad_(False)
