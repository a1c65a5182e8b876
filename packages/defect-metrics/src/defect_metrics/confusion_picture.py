"""The confusion matrix of a segmentation (or classification) as a picture a person can read.

Rows are the true classes, columns the predicted ones, and each row is normalised by its pixel count: cell
(r, c) is the share of class r's pixels predicted as class c, so the diagonal is each class's recall and a
small defect class reads as clearly as the background that outnumbers it. A row label carries the class's
pixel count; a class without true pixels has an empty (grey) row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from defect_core.plotting import matrix_plot


def row_normalised(confusion: np.ndarray) -> np.ndarray:
    """float (C, C): each row of ``confusion`` divided by its sum; a row that sums to 0 is NaN."""
    matrix = np.asarray(confusion, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / np.where(totals > 0, totals, 1.0), np.nan)


def confusion_matrix_picture(
    confusion: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    *,
    title: str = "confusion matrix (each row: where a true class's pixels went)",
) -> Path:
    """Write the row-normalised ``confusion`` (int (C, C), rows = true, columns = predicted) as a PNG with
    ``class_names`` on both axes; returns the path."""
    matrix = np.asarray(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix is square (C, C), got shape {matrix.shape}")
    if len(class_names) != matrix.shape[0]:
        raise ValueError(f"{len(class_names)} class names for a {matrix.shape[0]}-class confusion matrix")
    shares = row_normalised(matrix)
    totals = matrix.sum(axis=1)
    text = [["" if np.isnan(v) else f"{100.0 * v:.0f}%" for v in row] for row in shares]
    return matrix_plot(
        shares,
        path,
        row_labels=[f"{name} ({int(n):,} px)" for name, n in zip(class_names, totals, strict=True)],
        column_labels=list(class_names),
        title=title,
        xlabel="predicted class",
        ylabel="true class",
        cell_text=text,
    )
