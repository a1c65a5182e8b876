"""The detector's test metrics after every epoch (DIAG evaluates on its test split after each epoch).

Per epoch: average precision of the **logits** (as DIAG's ``average_precision_score(labels, logits)``; a
ranking metric, so the same as on probabilities up to float ties), ROC-AUC, and the precision and recall at
the threshold of the largest F1 (the threshold is a logit; ``score >= t`` is a defect). All from one exact
curve of defect-metrics (:class:`defect_metrics.BinaryCurve`). ``metrics.csv`` gets one row per epoch, rewritten
after each so a run that stops keeps what it measured, and ``metrics.png`` plots the columns over the epochs.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from defect_core.plotting import line_plot
from defect_inspect.evaluation.scoring import write_csv
from defect_inspect.training.device import autocast

logger = logging.getLogger(__name__)

METRICS_CSV = "metrics.csv"
METRICS_PNG = "metrics.png"
COLUMNS = ("epoch", "ap", "auroc", "f1", "threshold", "precision", "recall")
PLOTTED = {"AP": "ap", "ROC-AUC": "auroc", "precision @ best F1": "precision", "recall @ best F1": "recall"}


@dataclass(frozen=True)
class EpochDetection:
    """One epoch's test metrics; ``threshold`` is the logit of the best F1."""

    epoch: int
    ap: float
    auroc: float
    f1: float
    threshold: float
    precision: float
    recall: float


def detection_metrics(logits: np.ndarray, truth: np.ndarray, epoch: int = 0) -> EpochDetection:
    """AP, ROC-AUC and the best-F1 point of ``logits`` float (N,) for ``truth`` bool (N,) (both classes needed)."""
    from defect_metrics import BinaryCurve

    curve = BinaryCurve.from_scores(np.asarray(logits, np.float64), np.asarray(truth, bool))
    precision, recall = curve.precision_recall()
    f1 = 2.0 * curve.true_positives / (curve.true_positives + curve.false_positives + curve.positives)
    best = int(np.argmax(f1))  # the highest threshold on ties, as BinaryCurve.f1_max
    return EpochDetection(
        epoch=epoch,
        ap=curve.average_precision(),
        auroc=curve.auroc(),
        f1=float(f1[best]),
        threshold=float(curve.thresholds[best]),
        precision=float(precision[best]),
        recall=float(recall[best]),
    )


@torch.no_grad()
def detector_logits(
    model: nn.Module, loader: DataLoader, device: torch.device, amp_dtype: torch.dtype | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(logits float64 (N,), truth bool (N,)) of a detector over ``loader`` (an :class:`InspectionDataset`'s),
    in eval mode; the model's previous mode is restored."""
    was_training = model.training
    model.eval()
    logits, truth = [], []
    try:
        for batch in loader:
            with autocast(device, amp_dtype):
                outputs = model(batch["image"].to(device))
            logits.append(outputs.float().reshape(-1).cpu().numpy())
            truth.append(batch["defect"].numpy() > 0.5)
    finally:
        model.train(was_training)
    return np.concatenate(logits).astype(np.float64), np.concatenate(truth)


class EpochMetricsLog:
    """Collects :class:`EpochDetection` rows and rewrites ``metrics.csv`` / ``metrics.png`` in ``out_dir``."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.rows: list[EpochDetection] = []

    @property
    def csv_path(self) -> Path:
        return self.out_dir / METRICS_CSV

    @property
    def plot_path(self) -> Path:
        return self.out_dir / METRICS_PNG

    def add(self, epoch: int, logits: np.ndarray, truth: np.ndarray) -> EpochDetection:
        """Measure one epoch, log it, rewrite both files; return the row."""
        row = detection_metrics(logits, truth, epoch)
        self.rows.append(row)
        logger.info(
            "epoch %d test: AP %.4f, ROC-AUC %.4f, precision %.4f / recall %.4f at the best F1 %.4f",
            epoch,
            row.ap,
            row.auroc,
            row.precision,
            row.recall,
            row.f1,
        )
        write_csv(
            self.csv_path,
            COLUMNS,
            [[r.epoch, *(f"{v:.8g}" for k, v in asdict(r).items() if k != "epoch")] for r in self.rows],
        )
        epochs = [float(r.epoch) for r in self.rows]
        line_plot(
            {label: (epochs, [getattr(r, key) for r in self.rows]) for label, key in PLOTTED.items()},
            self.plot_path,
            title="detector on the test split, per epoch",
            xlabel="epoch",
            ylabel="metric",
        )
        return row
