"""The validation split that early stopping watches: a seeded, per-class (stratified) share of the training set."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

logger = logging.getLogger(__name__)

T = TypeVar("T")


def stratified_split(
    items: Sequence[T], key: Callable[[T], str], fraction: float, seed: int
) -> tuple[list[T], list[T]]:
    """(training, validation): ``round(fraction * n)`` items of each class go to validation, at random.

    A class keeps at least one training item, so a class with a single item has none in validation. The
    order inside each part follows ``items``; the same seed gives the same split.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)
    rng = np.random.default_rng(seed)
    held: set[int] = set()
    for name in sorted(groups):
        members = groups[name]
        take = min(round(fraction * len(members)), len(members) - 1)
        if take > 0:
            held.update(int(i) for i in rng.choice(members, size=take, replace=False))
    train = [item for i, item in enumerate(items) if i not in held]
    val = [item for i, item in enumerate(items) if i in held]
    logger.debug("validation split: %d training, %d validation item(s)", len(train), len(val))
    return train, val
