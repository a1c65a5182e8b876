"""Scoring a multi-class segmenter (``--classes multi``) on items with label images: per-class IoU, the two
mIoUs and the confusion matrix, from defect-metrics, on exactly the label images written to disk.

The test items' classes are matched to the model's by name. A test class the model does not know is added
after the model's classes: its pixels count as missed (IoU 0, in ``miou_defects``) rather than vanishing from
the score, and a warning names it. Files written into ``out_dir``:

- ``targets/<stem>.png`` and ``predictions/<stem>.png``: true and predicted class ids (uint8, 0 =
  background, k = ``classes[k]``), the image's size, so that ``defect-metrics segmentation --predictions
  predictions --targets targets --num-classes C --background 0`` gives the same numbers;
- ``predictions_color/<stem>.png``: the predictions in the class palette, for people;
- ``classes.json``: ``{id: name}`` of those ids; ``confusion.png``: the row-normalised confusion matrix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.class_labels import labels_color_image, labels_image
from defect_inspect.data.items import InspectionItem
from defect_inspect.data.pixel_labels import model_labels
from defect_inspect.training.checkpoint import CheckpointInfo

logger = logging.getLogger(__name__)

CONFUSION_NAME = "confusion.png"


def scored_classes(info: CheckpointInfo, items: Sequence[InspectionItem]) -> list[str]:
    """The model's classes, then (with a warning) the test items' classes it does not know, by name."""
    classes = list(info.classes)
    unknown = sorted({n for i in items if i.is_defect for n in i.class_table.values()} - set(classes))
    if unknown:
        logger.warning(
            "test class(es) %s are not classes of the model %s: their pixels count as missed",
            unknown,
            classes,
        )
    return classes + unknown


def write_class_table(classes: Sequence[str], path: Path) -> Path:
    """``classes`` as ``{"0": "background", "1": ..., ...}`` JSON (the ids of the label images written)."""
    return write_text_atomic(path, json.dumps({str(k): n for k, n in enumerate(classes)}, indent=2) + "\n")


def score_label_maps(
    info: CheckpointInfo,
    items: Sequence[InspectionItem],
    stems: Sequence[str],
    label_maps: Sequence[np.ndarray],
    out_dir: Path,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Segmentation results (per-class IoU, ``miou_defects``, ``miou_with_background``, pixel accuracy,
    confusion) of the predicted ``label_maps`` (int (H_i, W_i), indices of ``info.classes``) against the
    items' label images, and the files of the module docstring."""
    from defect_metrics import confusion_matrix_picture, segmentation_metrics

    classes = scored_classes(info, items)
    targets = []
    for item, stem, prediction in zip(items, stems, label_maps, strict=True):
        height, width = prediction.shape
        target = model_labels(item, classes, (width, height))
        targets.append(target)
        save_image_atomic(labels_image(target), out_dir / "targets" / f"{stem}.png")
        save_image_atomic(labels_image(prediction), out_dir / "predictions" / f"{stem}.png")
        save_image_atomic(labels_color_image(prediction), out_dir / "predictions_color" / f"{stem}.png")
    metrics = segmentation_metrics(label_maps, targets, len(classes), class_names=classes, background=0)
    picture = confusion_matrix_picture(metrics.confusion, classes, out_dir / CONFUSION_NAME)
    files = {
        "targets": out_dir / "targets",
        "predictions_color": out_dir / "predictions_color",
        "classes": write_class_table(classes, out_dir / "classes.json"),
        "confusion": picture,
    }
    logger.info(
        "mIoU over the defect classes %.4f, with background %.4f",
        metrics.miou_defects,
        metrics.miou_with_background,
    )
    return metrics.as_dict(), files
