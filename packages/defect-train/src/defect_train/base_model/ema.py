"""Exponential moving average of a module's weights (the EMA UNet of Stable Diffusion's training)."""

from __future__ import annotations

import torch


def ema_decay_at(step: int, decay: float) -> float:
    """Decay used after optimisation step ``step`` (0-based): ``min(decay, (1 + step) / (10 + step))``.

    The warm-up is diffusers' ``EMAModel`` default: early averages follow the weights closely instead of
    remembering the random initialisation for thousands of steps.
    """
    return min(decay, (1.0 + step) / (10.0 + step))


class EmaWeights:
    """Shadow copies of a module's parameters: ``shadow <- d * shadow + (1 - d) * param`` per update."""

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = {n: p.detach().clone().float() for n, p in module.named_parameters()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> float:
        """Move the shadow towards ``module``'s parameters; return the decay used."""
        d = ema_decay_at(step, self.decay)
        for name, param in module.named_parameters():
            self.shadow[name].mul_(d).add_(param.detach().float(), alpha=1.0 - d)
        return d

    @torch.no_grad()
    def copy_to(self, module: torch.nn.Module) -> None:
        """Overwrite ``module``'s parameters with the shadow weights."""
        for name, param in module.named_parameters():
            param.copy_(self.shadow[name].to(param.dtype))
