"""The three DefectFill losses (DESIGN.md §4), as pure functions of tensors.

‖·‖² is the weighted mean over all latent elements, ``(w * (target − pred)²).mean()``: DefectFill's
defaults are RealFill's, whose training code computes its masked loss this way, and the 0.5 / 0.2 / 0.05
weights were tuned against that scale. It is neither a sum nor divided by the mask area.

Shapes: target / pred (B, C, h, w); masks (B, 1, h, w) with 0 / 1 values at latent size (broadcast over C);
attention map A (B, 1, h, w).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def weighted_mse(target: torch.Tensor, pred: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``(weight * (target − pred)²).mean()`` over every element (weight broadcast over channels)."""
    return (weight * (target.float() - pred.float()) ** 2).mean()


def defect_loss(target: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_def = ‖M ⊙ (ε − ε_θ)‖²: only the defect region is learned from the defect branch."""
    return weighted_mse(target, pred, mask)


def object_loss(
    target: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor, alpha: float = 0.3
) -> torch.Tensor:
    """L_obj = ‖M' ⊙ (ε − ε_θ)‖² with M' = M + α(1 − M): the defect counts fully, the object a little."""
    return weighted_mse(target, pred, mask + alpha * (1 - mask))


def attention_loss(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_attn = ‖A − M‖²: the token's decoder cross-attention should cover exactly the defect."""
    return ((attention.float() - mask.float()) ** 2).mean()


@dataclass(frozen=True)
class LossWeights:
    """L = defect · L_def + object · L_obj + attention · L_attn (paper: 0.5, 0.2, 0.05)."""

    defect: float = 0.5
    object: float = 0.2
    attention: float = 0.05

    def combine(self, l_def: torch.Tensor, l_obj: torch.Tensor, l_attn: torch.Tensor) -> torch.Tensor:
        return self.defect * l_def + self.object * l_obj + self.attention * l_attn
