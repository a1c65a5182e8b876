"""The deterministic train / held-out split of real defect examples (DESIGN.md §3).

Per defect category (object, defect), sort the examples by image file name; the first ``len // 3`` are
training examples, the rest are held out. This is the protocol of AnomalyDiffusion (Hu et al., AAAI 2024),
which DefectFill and the other few-shot defect generators follow: generators learn from the first third of
each MVTec AD test category and inspection models are scored on the remaining two thirds. Using the same
rule, with no randomness, is what makes our numbers comparable with theirs.

``len // 3`` rounds down, so a category with fewer than three examples has no training example; it is kept
(all held out) and logged rather than silently dropped.

Split rules (:data:`SPLIT_RULES`): ``"first-third"`` is the rule above; ``"first-10"`` trains on the first 10
pairs by file name and holds out the rest, which is how DefectFill used VisA ("limited to the first 10 pairs
per object", appendix B.2; in VisA's one-class split every anomaly of an object is one category). Each
dataset reader names the rule of the DefectFill protocol for its dataset (``DatasetReader.split_rule``:
``"first-10"`` for VisA, ``"first-third"`` otherwise); ``"auto"`` in the configs means that one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from defect_core.defect_example import DefectExample

logger = logging.getLogger(__name__)

SplitName = Literal["train", "held_out", "all"]
SPLIT_NAMES: tuple[str, ...] = ("train", "held_out", "all")
SplitRule = Literal["first-third", "first-10"]
SPLIT_RULES: tuple[str, ...] = ("first-third", "first-10")
FIRST_N = 10
"""Training pairs per category under the ``"first-10"`` rule (DefectFill on VisA)."""


@dataclass(frozen=True)
class Split:
    """Training and held-out examples; each grouped by (object, defect) and sorted by file name."""

    train: tuple[DefectExample, ...]
    held_out: tuple[DefectExample, ...]

    def __post_init__(self) -> None:
        for name in ("train", "held_out"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        overlap = {e.image for e in self.train} & {e.image for e in self.held_out}
        if overlap:
            raise ValueError(
                f"Split.held_out: {len(overlap)} image(s) also in train, e.g. {sorted(overlap)[0]}"
            )


def check_split_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`SPLIT_RULES`, else ``ValueError`` listing them."""
    if rule not in SPLIT_RULES:
        raise ValueError(f"split rule must be one of {', '.join(SPLIT_RULES)}; got {rule!r}")
    return rule


def train_size(count: int, rule: SplitRule = "first-third") -> int:
    """Number of training examples of a category with ``count`` examples: ``count // 3`` (first-third) or
    ``min(10, count)`` (first-10)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    check_split_rule(rule)
    return count // 3 if rule == "first-third" else min(FIRST_N, count)


def _sort_key(example: DefectExample) -> tuple[str, str]:
    # The file name decides (the protocol's rule); the full path only breaks ties between folders.
    return (example.image.name, str(example.image))


def group_by_category(examples: Iterable[DefectExample]) -> dict[tuple[str, str], list[DefectExample]]:
    """Examples grouped by (object_name, defect_name), groups in sorted key order, each sorted by file name."""
    groups: dict[tuple[str, str], list[DefectExample]] = {}
    for example in examples:
        groups.setdefault((example.object_name, example.defect_name), []).append(example)
    return {key: sorted(groups[key], key=_sort_key) for key in sorted(groups)}


def split_examples(examples: Iterable[DefectExample], rule: SplitRule = "first-third") -> Split:
    """Split defect examples per (object, defect): the first :func:`train_size` by file name train, the rest
    held out.

    The input order does not matter; a mixed list of several categories is split category by category.
    """
    check_split_rule(rule)
    train: list[DefectExample] = []
    held_out: list[DefectExample] = []
    for (object_name, defect_name), group in group_by_category(examples).items():
        n_train = train_size(len(group), rule)
        if n_train == 0:
            logger.warning(
                "%s/%s has %d example(s): none for training (the first len // 3 train)",
                object_name,
                defect_name,
                len(group),
            )
        elif n_train == len(group):
            logger.warning(
                "%s/%s has %d example(s): none held out (the first %d train)",
                object_name,
                defect_name,
                len(group),
                FIRST_N,
            )
        train += group[:n_train]
        held_out += group[n_train:]
    return Split(tuple(train), tuple(held_out))


def select_split(
    examples: Iterable[DefectExample], which: SplitName, rule: SplitRule = "first-third"
) -> list[DefectExample]:
    """The examples of one side of :func:`split_examples` under ``rule``: "train", "held_out", or "all"
    (both, sorted)."""
    if which not in SPLIT_NAMES:
        raise ValueError(f"which must be one of {', '.join(SPLIT_NAMES)}; got {which!r}")
    check_split_rule(rule)
    if which == "all":
        return [e for group in group_by_category(examples).values() for e in group]
    split = split_examples(examples, rule)
    return list(split.train if which == "train" else split.held_out)


def resolve_split_rule(requested: str, protocol_rule: str) -> SplitRule:
    """The rule to use: ``protocol_rule`` (the dataset reader's ``split_rule``) for ``"auto"``, else
    ``requested``, checked against :data:`SPLIT_RULES`."""
    return check_split_rule(protocol_rule if requested == "auto" else requested)  # type: ignore[return-value]
