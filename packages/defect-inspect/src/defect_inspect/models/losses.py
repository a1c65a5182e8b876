"""Segmentation losses: focal loss (Lin et al. 2017; DefectFill's UNet) and plain cross-entropy.

Focal loss down-weights the easy pixels, of which a defect image has many (the defect covers a few percent
of it): ``FL(p_t) = −α_t (1 − p_t)^γ log p_t`` with the paper's γ = 2 and, for the binary form, α = 0.25 on
defect pixels (0.75 on the rest). The multi-class form uses no α.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from defect_inspect.training.config import SEGMENTATION_LOSSES

FOCAL_GAMMA = 2.0
FOCAL_ALPHA = 0.25

SegmentationLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def binary_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA, alpha: float = FOCAL_ALPHA
) -> torch.Tensor:
    """Mean focal loss of defect logits float (B, 1, H, W) against a target in {0, 1} of the same shape."""
    return sigmoid_focal_loss(logits.float(), target.float(), alpha=alpha, gamma=gamma, reduction="mean")


def multiclass_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA
) -> torch.Tensor:
    """Mean focal loss of class logits float (B, C, H, W) against class indices int64 (B, H, W)."""
    log_p = F.log_softmax(logits.float(), dim=1)
    log_pt = log_p.gather(1, target[:, None]).squeeze(1)
    return (-((1.0 - log_pt.exp()) ** gamma) * log_pt).mean()


def segmentation_loss(name: str, multiclass: bool) -> SegmentationLoss:
    """The loss ``name`` ("focal" or "ce") for binary (logits (B, 1, H, W), target float (B, 1, H, W)) or
    multi-class (logits (B, C, H, W), target int64 (B, H, W)) segmentation."""
    if name not in SEGMENTATION_LOSSES:
        raise ValueError(f"segmentation loss must be one of {SEGMENTATION_LOSSES}, got {name!r}")
    if multiclass:
        if name == "focal":
            return multiclass_focal_loss
        return lambda logits, target: F.cross_entropy(logits.float(), target)
    if name == "focal":
        return binary_focal_loss
    return lambda logits, target: F.binary_cross_entropy_with_logits(logits.float(), target.float())
