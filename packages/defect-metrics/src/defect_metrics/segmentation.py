"""Segmentation metrics: per-class intersection over union (IoU), their mean (mIoU), pixel accuracy.

Everything comes from one confusion matrix summed over all test images (dataset-level IoU, as
mmsegmentation and the DefectFill / AnomalyDiffusion protocol report it), not averaged per image: for class
c, ``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` with TP_c the diagonal entry, FP_c the rest of column c
(predicted c, truly another class) and FN_c the rest of row c (truly c, predicted another class). A class
that appears in neither the predictions nor the targets (TP + FP + FN = 0) has no IoU (``None``) and is
left out of every mean, so a test set that happens to lack a class is not scored as if it were missed.

Two means, for label maps with a background class (``background=0``, the class-index labels of
:mod:`defect_core.class_labels`):

- ``miou_defects``: mean IoU over the defect classes only (background left out);
- ``miou_with_background``: mean IoU over every class, background included (mmsegmentation's ``mIoU`` on a
  dataset whose background is a class; the same number as ``miou``).

Background IoU is close to 1 on defect images (most pixels are background and most are right), so the mean
with background is always the higher of the two. Defect Spectrum (Yang et al., ECCV 2024) reports "mIoU"
without saying which one, and its segmentation code is not published: compare with both.
``pixel_accuracy`` is the trace over the total: the share of pixels whose class is right.

Without ``background`` the result is what it always was: ``miou`` over every class and no further keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentationMetrics:
    """``iou[c]``: IoU of class c or ``None``; ``miou``: mean of the defined ones; ``confusion``: int64 (C, C)
    pixel counts, rows = target class, columns = predicted class; ``pixel_accuracy``: trace / total;
    ``background``: index of the background class, when the classes have one (see the module docstring)."""

    iou: list[float | None]
    miou: float
    pixel_accuracy: float
    confusion: np.ndarray
    class_names: list[str]
    background: int | None = None

    @property
    def miou_with_background(self) -> float:
        """Mean IoU over every class that has one, background included (equals ``miou``)."""
        return self.miou

    @property
    def miou_defects(self) -> float:
        """Mean IoU over the classes other than ``background`` that have one (NaN when none has)."""
        defined = [v for c, v in enumerate(self.iou) if v is not None and c != self.background]
        return float(np.mean(defined)) if defined else float("nan")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values; with a ``background`` also ``miou_defects``, ``miou_with_background`` and the
        background's name."""
        values: dict[str, object] = {
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "iou": dict(zip(self.class_names, self.iou, strict=True)),
            "confusion": self.confusion.tolist(),
        }
        if self.background is not None:
            values.update(
                {
                    "miou_defects": self.miou_defects,
                    "miou_with_background": self.miou_with_background,
                    "background": self.class_names[self.background],
                    "class_names": list(self.class_names),
                }
            )
        return values


def metrics_from_confusion(
    confusion: np.ndarray, class_names: Sequence[str] | None = None, *, background: int | None = None
) -> SegmentationMetrics:
    """Per-class IoU, mIoU and pixel accuracy of an int (C, C) confusion matrix (rows = target class,
    columns = predicted class), as :func:`segmentation_metrics` computes them."""
    matrix = np.asarray(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 1:
        raise ValueError(f"a confusion matrix is square (C, C) with C >= 1, got shape {matrix.shape}")
    if (matrix < 0).any():
        raise ValueError("a confusion matrix holds pixel counts: negative entries found")
    num_classes = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for {num_classes} classes")
    if background is not None and not 0 <= background < num_classes:
        raise ValueError(f"background index {background} is not a class index of 0..{num_classes - 1}")
    matrix = matrix.astype(np.int64)
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
        background=background,
    )


def segmentation_metrics(
    predictions: Iterable[np.ndarray],
    targets: Iterable[np.ndarray],
    num_classes: int,
    *,
    ignore_index: int | None = None,
    class_names: list[str] | None = None,
    background: int | None = None,
) -> SegmentationMetrics:
    """Per-class IoU and mIoU of predicted label maps against target label maps, from one confusion matrix
    accumulated over every pair (the module docstring has the definitions).

    ``predictions`` and ``targets``: integer (H, W) arrays, pairwise of equal shape, values in
    ``[0, num_classes)``; target pixels equal to ``ignore_index`` are skipped. Values out of range raise
    ``ValueError`` naming the pair. ``background``: index of the background class, which adds the mIoU
    over the defect classes alone (``miou_defects``).
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
    return metrics_from_confusion(confusion.reshape(num_classes, num_classes), names, background=background)
