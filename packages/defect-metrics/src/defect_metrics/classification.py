"""Classification metrics: accuracy, per-class accuracy (recall) and the confusion matrix."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassificationMetrics:
    """``confusion[i, j]``: samples of true class ``classes[i]`` predicted as ``classes[j]`` (int64 (C, C)).

    ``per_class_accuracy[c]``: the fraction of class c's samples predicted as c (its recall); ``None`` for a
    class with no true sample. ``balanced_accuracy``: the mean of the defined per-class accuracies.
    """

    accuracy: float
    balanced_accuracy: float
    per_class_accuracy: dict[str, float | None]
    confusion: np.ndarray
    classes: list[str]
    samples: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values (the matrix as nested lists)."""
        return {
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "per_class_accuracy": self.per_class_accuracy,
            "confusion": self.confusion.tolist(),
            "classes": self.classes,
            "samples": self.samples,
        }


def confusion_matrix(
    labels: Sequence[object], predictions: Sequence[object], classes: Sequence[object] | None = None
) -> tuple[np.ndarray, list[object]]:
    """(int64 (C, C) counts, the class order). ``classes`` defaults to the sorted union of both sequences;
    a label or prediction outside a given ``classes`` raises ``ValueError``."""
    labels = list(labels)
    predictions = list(predictions)
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    if not labels:
        raise ValueError("no samples given")
    order = list(classes) if classes is not None else sorted(set(labels) | set(predictions), key=str)
    index = {name: i for i, name in enumerate(order)}
    if len(index) != len(order):
        raise ValueError(f"classes has duplicates: {order}")
    unknown = sorted({str(v) for v in labels + predictions if v not in index})
    if unknown:
        raise ValueError(f"values not in classes {order}: {unknown}")
    true_index = np.array([index[v] for v in labels], dtype=np.int64)
    pred_index = np.array([index[v] for v in predictions], dtype=np.int64)
    counts = np.bincount(true_index * len(order) + pred_index, minlength=len(order) ** 2)
    return counts.reshape(len(order), len(order)), order


def classification_metrics(
    labels: Sequence[object], predictions: Sequence[object], classes: Sequence[object] | None = None
) -> ClassificationMetrics:
    """Metrics of ``predictions`` against true ``labels`` (equally long sequences of class names or ids)."""
    confusion, order = confusion_matrix(labels, predictions, classes)
    support = confusion.sum(axis=1)
    per_class = {
        str(name): (float(confusion[i, i] / support[i]) if support[i] else None)
        for i, name in enumerate(order)
    }
    defined = [v for v in per_class.values() if v is not None]
    return ClassificationMetrics(
        accuracy=float(np.trace(confusion) / confusion.sum()),
        balanced_accuracy=float(np.mean(defined)),
        per_class_accuracy=per_class,
        confusion=confusion,
        classes=[str(c) for c in order],
        samples=int(confusion.sum()),
    )


def read_predictions_csv(
    path: str | Path, label_column: str = "label", prediction_column: str = "prediction"
) -> tuple[list[str], list[str]]:
    """(true labels, predictions) from a CSV file with a header naming both columns (others are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in (label_column, prediction_column) if c not in header]
        if missing:
            raise InputFileError(path, f"has no column(s) {missing}; its header is {header}")
        labels, predictions = [], []
        for line, row in enumerate(reader, start=2):
            label, prediction = row.get(label_column), row.get(prediction_column)
            if label in (None, "") or prediction in (None, ""):
                raise InputFileError(path, f"line {line}: empty {label_column!r} or {prediction_column!r}")
            labels.append(label.strip())
            predictions.append(prediction.strip())
    if not labels:
        raise InputFileError(path, "has no rows")
    return labels, predictions
