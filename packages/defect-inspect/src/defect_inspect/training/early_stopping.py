"""Early stopping on the validation loss."""

from __future__ import annotations

import math


class EarlyStopping:
    """Tracks the lowest validation loss; ``should_stop`` once ``patience`` epochs in a row did not beat it
    by more than ``min_delta``."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def step(self, value: float, epoch: int) -> bool:
        """Record epoch ``epoch``'s loss; return True when it is the new best."""
        if not math.isfinite(value):
            self.bad_epochs += 1
            return False
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs have passed without improvement."""
        return self.bad_epochs >= self.patience
