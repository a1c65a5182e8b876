"""Segmentation metrics: per-class intersection over union (IoU) and their mean (mIoU).

Intersections and unions are summed over all images before dividing (dataset-level IoU, as mmsegmentation
and the DefectFill / AnomalyDiffusion protocol report it), not averaged per image. A class that appears in
neither the predictions nor the targets has no IoU (``None``) and is left out of the mean.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentationMetrics:
    """``iou[c]``: IoU of class c or ``None``; ``miou``: mean of the defined ones; ``confusion``: int64 (C, C)
    pixel counts, rows = target class, columns = predicted class; ``pixel_accuracy``: trace / total."""

    iou: list[float | None]
    miou: float
    pixel_accuracy: float
    confusion: np.ndarray
    class_names: list[str]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "iou": dict(zip(self.class_names, self.iou, strict=True)),
            "confusion": self.confusion.tolist(),
        }


def segmentation_metrics(
    predictions: Iterable[np.ndarray],
    targets: Iterable[np.ndarray],
    num_classes: int,
    *,
    ignore_index: int | None = None,
    class_names: list[str] | None = None,
) -> SegmentationMetrics:
    """Per-class IoU and mIoU of predicted label maps against target label maps.

    ``predictions`` and ``targets``: integer (H, W) arrays, pairwise of equal shape, values in
    ``[0, num_classes)``; target pixels equal to ``ignore_index`` are skipped. Values out of range raise
    ``ValueError`` naming the pair.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    names = class_names or [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for {num_classes} classes")
    confusion = np.zeros(num_classes * num_classes, dtype=np.int64)
    pairs = 0
    for index, (prediction, target) in enumerate(zip(predictions, targets, strict=True)):
        prediction, target = np.asarray(prediction), np.asarray(target)
        if prediction.shape != target.shape:
            raise ValueError(f"pair {index}: prediction {prediction.shape} and target {target.shape} differ")
        keep = target != ignore_index if ignore_index is not None else np.ones(target.shape, dtype=bool)
        p, t = prediction[keep].astype(np.int64), target[keep].astype(np.int64)
        for name, values in (("prediction", p), ("target", t)):
            if values.size and (values.min() < 0 or values.max() >= num_classes):
                raise ValueError(
                    f"pair {index}: {name} has values in [{values.min()}, {values.max()}], outside [0, {num_classes})"
                )
        confusion += np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
        pairs += 1
    if pairs == 0:
        raise ValueError("no prediction / target pairs given")
    matrix = confusion.reshape(num_classes, num_classes)
    intersection = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - intersection
    iou = [float(i / u) if u else None for i, u in zip(intersection, union, strict=True)]
    defined = [v for v in iou if v is not None]
    total = matrix.sum()
    return SegmentationMetrics(
        iou=iou,
        miou=float(np.mean(defined)) if defined else float("nan"),
        pixel_accuracy=float(intersection.sum() / total) if total else float("nan"),
        confusion=matrix,
        class_names=names,
    )
