"""Class balance of a training set: keep it, repeat the small classes, or cut the large ones.

Generated sets are often lopsided (1000 generated defects of one type, 30 defect-free images); a detector
or classifier trained on them learns the prior. ``oversample`` repeats randomly chosen items of each class
until every class has as many as the largest; ``undersample`` keeps a random subset of each class as large as
the smallest. Both are seeded and keep the input order of the items they keep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

import numpy as np

logger = logging.getLogger(__name__)

T = TypeVar("T")
BalanceMode = Literal["none", "oversample", "undersample"]
BALANCE_MODES: tuple[str, ...] = ("none", "oversample", "undersample")


def balance_classes(items: Sequence[T], key: Callable[[T], str], mode: BalanceMode, seed: int) -> list[T]:
    """``items`` with their classes (``key(item)``) balanced by ``mode`` (see the module docstring)."""
    if mode not in BALANCE_MODES:
        raise ValueError(f"balance mode must be one of {BALANCE_MODES}, got {mode!r}")
    if mode == "none" or not items:
        return list(items)
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)
    rng = np.random.default_rng(seed)
    sizes = [len(g) for g in groups.values()]
    chosen: list[int] = []
    for name in sorted(groups):
        members = groups[name]
        if mode == "undersample":
            chosen += sorted(int(i) for i in rng.choice(members, size=min(sizes), replace=False))
        else:
            extra = max(sizes) - len(members)
            chosen += members + [int(i) for i in rng.choice(members, size=extra, replace=True)]
    chosen.sort()
    logger.info(
        "class balance %s: %s -> %d item(s)",
        mode,
        {k: len(v) for k, v in sorted(groups.items())},
        len(chosen),
    )
    return [items[i] for i in chosen]
