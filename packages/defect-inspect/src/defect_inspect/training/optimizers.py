"""The optimiser and learning-rate schedule of an inspection run, by name.

- ``adamw`` with ``cosine`` decay over the epochs: our default for fine-tuning (the papers do not say);
- ``adam`` with a ``constant`` rate and no weight decay: DIAG's detector (its published code: Adam, lr 1e-4).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from defect_inspect.training.config import LR_SCHEDULES, OPTIMIZERS

__all__ = ["LR_SCHEDULES", "OPTIMIZERS", "create_optimizer", "create_schedule"]


def create_optimizer(
    name: str, parameters: Iterable[torch.nn.Parameter], learning_rate: float, weight_decay: float
) -> torch.optim.Optimizer:
    """``torch.optim.AdamW`` (decoupled weight decay) or ``torch.optim.Adam`` (L2 weight decay; 0: none)."""
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def create_schedule(
    name: str, optimizer: torch.optim.Optimizer, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-epoch schedule: cosine decay to 0 over ``epochs``, or the constant rate."""
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ValueError(f"lr schedule must be one of {', '.join(LR_SCHEDULES)}, got {name!r}")
