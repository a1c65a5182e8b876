"""Exact ROC and precision-recall curves of a binary score, from one ranking of the scores.

Every distinct score is a threshold (predict positive where ``score >= threshold``); tied scores enter
together, so no curve depends on the order of equal scores. From the counts of true and false positives at
each threshold follow AUROC (trapezoids, as scikit-learn's ``roc_auc_score``), average precision (the step
sum ``Σ (R_k − R_{k−1}) P_k``, as scikit-learn's ``average_precision_score``) and F1-max (the maximum of
``2 TP / (TP + FP + P)`` over all thresholds). The ranking (:mod:`defect_metrics.ranking`) is shared with
the PRO curve when both are computed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from defect_metrics.ranking import RankedScores

logger = logging.getLogger(__name__)


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
    def from_ranking(cls, ranking: RankedScores, positive_tags: np.ndarray) -> BinaryCurve:
        """Counts from a ranking whose tag t is positive where ``positive_tags[t]`` is True."""
        true_positives = ranking.cumulative(np.asarray(positive_tags, dtype=bool))
        false_positives = ranking.run_ends + 1 - true_positives
        positives = int(true_positives[-1])
        return cls(
            thresholds=ranking.thresholds,
            true_positives=true_positives,
            false_positives=false_positives,
            positives=positives,
            negatives=ranking.size - positives,
        )

    @classmethod
    def from_scores(cls, scores: np.ndarray, labels: np.ndarray) -> BinaryCurve:
        """Counts for ``scores`` (real, any shape) against ``labels`` (bool or 0/1, same size)."""
        labels = np.ravel(np.asarray(labels)).astype(bool, copy=False)
        ranking = RankedScores.of(np.asarray(scores), labels.view(np.uint8))
        return cls.from_ranking(ranking, np.array([False, True]))

    def _need_both_classes(self, what: str) -> None:
        if self.positives == 0 or self.negatives == 0:
            raise ValueError(
                f"{what} needs both classes, got {self.positives} positive and {self.negatives} negative samples"
            )

    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        """(false positive rates, true positive rates), float64 (k + 1,), from (0, 0) to (1, 1)."""
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
