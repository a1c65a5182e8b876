"""Exact ROC and precision-recall curves of a binary score from one descending sort.

Every distinct score is a threshold (predict positive where ``score >= threshold``); tied scores enter
together, so no curve depends on the order of equal scores. From the counts of true and false positives at
each threshold follow AUROC (trapezoids, as scikit-learn's ``roc_auc_score``), average precision (the step
sum ``Σ (R_k − R_{k−1}) P_k``, as scikit-learn's ``average_precision_score``) and F1-max (the maximum of
``2 TP / (TP + FP + P)`` over all thresholds). One sort serves all three, and the same order also serves the
PRO curve (:mod:`defect_metrics.pro`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DescendingOrder:
    """Scores sorted from high to low, and where each run of tied scores ends.

    ``order``: int64 (n,), indices into the flattened scores, highest score first.
    ``run_ends``: int64 (k,), positions in ``order`` of the last element of each run of equal scores, so
    that ``thresholds = scores[order[run_ends]]`` are the k distinct scores, decreasing.
    """

    order: np.ndarray
    run_ends: np.ndarray
    thresholds: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray) -> DescendingOrder:
        """Sort ``scores`` (any shape, real, finite) once; raises ``ValueError`` on NaN or infinity."""
        flat = np.ravel(scores)
        if flat.size == 0:
            raise ValueError("scores are empty")
        if not np.all(np.isfinite(flat)):
            raise ValueError(f"scores contain {int(np.sum(~np.isfinite(flat)))} NaN or infinite values")
        # Ties are collapsed below, so the (faster) unstable sort is exact.
        order = np.argsort(flat)[::-1]
        ranked = flat[order]
        run_ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), flat.size - 1)
        return cls(order=order, run_ends=run_ends, thresholds=ranked[run_ends])

    def cumulative(self, weights: np.ndarray) -> np.ndarray:
        """Sum of ``weights`` (same size as the scores) over all elements scoring ``>=`` each threshold."""
        ranked = np.ravel(weights)[self.order]
        dtype = np.int64 if ranked.dtype.kind in "biu" else np.float64
        return np.cumsum(ranked, dtype=dtype)[self.run_ends]


@dataclass(frozen=True)
class BinaryCurve:
    """True and false positive counts at every distinct threshold, highest threshold first.

    ``thresholds``: (k,) decreasing; ``true_positives`` and ``false_positives``: int64 (k,), non-decreasing;
    ``positives`` / ``negatives``: totals of the labels.
    """

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    positives: int
    negatives: int

    @classmethod
    def from_order(cls, order: DescendingOrder, labels: np.ndarray) -> BinaryCurve:
        """Counts from a precomputed sort; ``labels`` has one bool per score (True = positive)."""
        labels = np.ravel(labels).astype(bool, copy=False)
        if labels.size != order.order.size:
            raise ValueError(f"{labels.size} labels for {order.order.size} scores")
        true_positives = order.cumulative(labels)
        false_positives = order.run_ends + 1 - true_positives
        positives = int(true_positives[-1])
        return cls(
            thresholds=order.thresholds,
            true_positives=true_positives,
            false_positives=false_positives,
            positives=positives,
            negatives=int(labels.size - positives),
        )

    @classmethod
    def from_scores(cls, scores: np.ndarray, labels: np.ndarray) -> BinaryCurve:
        """Counts for ``scores`` (float, any shape) against ``labels`` (bool or 0/1, same size)."""
        return cls.from_order(DescendingOrder.of(np.asarray(scores)), np.asarray(labels))

    def _need_both_classes(self, what: str) -> None:
        if self.positives == 0 or self.negatives == 0:
            raise ValueError(
                f"{what} needs both classes, got {self.positives} positive and {self.negatives} negative samples"
            )

    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        """(false positive rates, true positive rates), float64 (k + 1,), starting at (0, 0), ending at (1, 1)."""
        self._need_both_classes("a ROC curve")
        fpr = np.concatenate([[0.0], self.false_positives / self.negatives])
        tpr = np.concatenate([[0.0], self.true_positives / self.positives])
        return fpr, tpr

    def precision_recall(self) -> tuple[np.ndarray, np.ndarray]:
        """(precision, recall), float64 (k,), at each threshold from the highest (recall grows)."""
        if self.positives == 0:
            raise ValueError("a precision-recall curve needs at least one positive sample")
        precision = self.true_positives / (self.true_positives + self.false_positives)
        recall = self.true_positives / self.positives
        return precision, recall

    def auroc(self) -> float:
        """Area under the ROC curve by trapezoids, in [0, 1]."""
        fpr, tpr = self.roc()
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)

    def average_precision(self) -> float:
        """``Σ_k (R_k − R_{k−1}) P_k`` over thresholds from the highest, with ``R_0 = 0``; in [0, 1]."""
        precision, recall = self.precision_recall()
        return float(np.sum(np.diff(recall, prepend=0.0) * precision))

    def f1_max(self) -> tuple[float, float]:
        """(the largest F1 over all thresholds, the threshold reaching it; the highest one on ties)."""
        if self.positives == 0:
            raise ValueError("F1 needs at least one positive sample")
        f1 = 2.0 * self.true_positives / (self.true_positives + self.false_positives + self.positives)
        best = int(np.argmax(f1))
        return float(f1[best]), float(self.thresholds[best])


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (float, any shape) for ``labels`` (bool or 0/1, same size)."""
    return BinaryCurve.from_scores(scores, labels).auroc()


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (scikit-learn's definition, no interpolation) of ``scores`` for ``labels``."""
    return BinaryCurve.from_scores(scores, labels).average_precision()


def f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    """The largest F1 score over every threshold ``score >= t`` of ``scores`` for ``labels``."""
    return BinaryCurve.from_scores(scores, labels).f1_max()[0]
