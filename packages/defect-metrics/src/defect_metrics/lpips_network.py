"""The LPIPS network (Zhang et al. 2018) with its ImageNet trunk read from torchvision's hub cache.

``lpips.LPIPS`` would fetch the trunk through torchvision (a download when it is not cached, and a
deprecated API). Here the network is built with a random trunk and the trunk's weights are then copied from
the cached torchvision checkpoint, so nothing is downloaded and a missing file is a clear error. The linear
calibration layers ship inside the ``lpips`` package.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from defect_core.weight_files import LPIPS_BACKBONES, load_lpips_trunk, lpips_backbone_path

logger = logging.getLogger(__name__)


def _build(net: str) -> torch.nn.Module:
    import lpips

    with warnings.catch_warnings():
        # lpips passes torchvision's deprecated ``pretrained=False``; the trunk is random here on purpose.
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(pretrained=True, net=net, pnet_rand=True, verbose=False)


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
    :class:`defect_core.errors.MissingWeightsError`. ``random_backbone=True`` keeps a random trunk, for
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
        load_lpips_trunk(network.net, path, torch.load)
        logger.info("LPIPS %s trunk weights from %s", net, path)
    return network.to(device).eval().requires_grad_(False)
