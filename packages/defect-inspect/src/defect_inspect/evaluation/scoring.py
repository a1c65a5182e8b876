"""Scoring a trained model on labelled items: inference, the files other tools read, and the metrics.

Every metric comes from defect-metrics, computed on exactly the arrays written to disk, so that
``defect-metrics localization --maps maps --masks masks`` (or ``classification --predictions
predictions.csv``) on the written files gives the same numbers. Files written into ``out_dir``:

- segmenter: ``maps/<stem>.npy`` (float32 P(defect), the image's size), ``masks/<stem>.png`` (true mask,
  0 / 255), ``predictions/<stem>.png`` (P >= threshold, 0 / 255), ``image_scores.csv`` (each image's score
  under the run's image-score rule, :mod:`defect_inspect.evaluation.image_score`); with ``multiclass`` also
  ``targets/<stem>.png`` and ``predictions/<stem>.png`` as class-index images. With the default ``pooled``
  image score the image metrics come from the model-resolution maps, so ``defect-metrics localization`` on
  ``maps/`` reproduces the pixel metrics, and the image metrics with ``--smoothing 21 --smoothing-border zero``
  only up to that resize (``image_scores.csv`` holds the exact scores); a segmenter trained on label images
  (``--classes multi``) writes the files of :mod:`defect_inspect.evaluation.class_scoring` instead
  (``targets/``, ``predictions/`` and ``predictions_color/`` class-index images, ``classes.json``,
  ``confusion.png``) and reports per-class IoU with the mIoU over the defect classes and with background;
- classifier and detector: ``predictions.csv`` (image, label, prediction, probabilities);
- every task: ``predictions.png``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from defect_core.atomic import save_image_atomic, write_bytes_atomic, write_text_atomic
from defect_core.errors import InputFileError
from defect_core.images import mask_to_image
from defect_inspect.data.items import GOOD, InspectionItem
from defect_inspect.evaluation.class_scoring import score_label_maps
from defect_inspect.evaluation.image_score import DESCRIPTIONS, image_score_arguments
from defect_inspect.evaluation.inference import Inference, run_inference
from defect_inspect.evaluation.picture import PictureRow, prediction_picture, spread_indices
from defect_inspect.training.checkpoint import CheckpointInfo
from defect_inspect.training.tasks import DEFECT

logger = logging.getLogger(__name__)

PICTURE_NAME = "predictions.png"
IGNORE_INDEX = 255


@dataclass(frozen=True)
class Scores:
    """Metric tables (JSON-ready), curves for plots, and the files written."""

    results: dict[str, Any]
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def item_stems(items: Sequence[InspectionItem]) -> list[str]:
    """A distinct file stem per item: ``<label>_<image stem>`` (numbered where two would collide)."""
    stems: list[str] = []
    seen: set[str] = set()
    for item in items:
        base = f"{item.label}_{item.image.stem}"
        stem, n = base, 1
        while stem in seen:
            stem, n = f"{base}_{n}", n + 1
        seen.add(stem)
        stems.append(stem)
    return stems


def save_map(array: np.ndarray, path: Path) -> Path:
    """Write a float32 (H, W) map as ``.npy``, atomically."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32), allow_pickle=False)
    return write_bytes_atomic(path, buffer.getvalue())


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """A CSV file with ``header``, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())


def _masks(items: Sequence[InspectionItem], sizes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    masks = []
    for item, (height, width) in zip(items, sizes, strict=True):
        mask = item.load_mask((width, height))
        if mask.shape != (height, width):
            raise InputFileError(
                item.mask or item.image,
                f"mask is {mask.shape[1]}x{mask.shape[0]} but its image "
                f"{item.image.name} is {width}x{height}",
            )
        masks.append(mask)
    return masks


def score_segmenter(
    info: CheckpointInfo,
    items: Sequence[InspectionItem],
    inference: Inference,
    out_dir: Path,
    threshold: float,
    image_score: str = "pooled",
) -> Scores:
    """Localization (pixel / image AUROC, AP, F1-max, AUPRO) and segmentation (IoU, mIoU) metrics; the image
    scores follow ``image_score`` (:mod:`defect_inspect.evaluation.image_score`)."""
    from defect_metrics import image_scores, localization_metrics, segmentation_metrics

    stems = item_stems(items)
    maps = inference.maps
    masks = _masks(items, [m.shape for m in maps])
    for stem, amap, mask in zip(stems, maps, masks, strict=True):
        save_map(amap, out_dir / "maps" / f"{stem}.npy")
        save_image_atomic(mask_to_image(mask), out_dir / "masks" / f"{stem}.png")
    score_arguments = image_score_arguments(image_score, inference.model_maps)
    localization = localization_metrics(maps, masks, **score_arguments)
    per_image = image_scores(
        score_arguments.get("image_maps", maps),
        score_arguments["smoothing"],
        score_arguments.get("smoothing_border", "reflect"),
    )
    score_file = write_csv(
        out_dir / "image_scores.csv",
        ["image", "label", "defective", "score"],
        [
            [str(item.image), item.label, int(bool(mask.any())), f"{score:.8f}"]
            for item, mask, score in zip(items, masks, per_image, strict=True)
        ],
    )
    class_files: dict[str, Path] = {}
    if info.label_images:
        segmentation_results, class_files = score_label_maps(
            info, items, stems, inference.label_maps, out_dir
        )
    elif info.multiclass:
        index = {name: i for i, name in enumerate(info.classes)}
        unknown = sorted({i.label for i in items if i.is_defect and i.label not in index})
        if unknown:
            logger.warning(
                "test defect type(s) %s are not classes of the model: their pixels are ignored in mIoU",
                unknown,
            )
        targets = [
            np.where(mask, index.get(item.label, IGNORE_INDEX), 0).astype(np.int64)
            for item, mask in zip(items, masks, strict=True)
        ]
        predictions = inference.label_maps
        for stem, target, prediction in zip(stems, targets, predictions, strict=True):
            save_image_atomic(
                Image.fromarray(target.astype(np.uint8), mode="L"), out_dir / "targets" / f"{stem}.png"
            )
            save_image_atomic(
                Image.fromarray(prediction.astype(np.uint8), mode="L"),
                out_dir / "predictions" / f"{stem}.png",
            )
        segmentation_results = segmentation_metrics(
            predictions, targets, len(info.classes), ignore_index=IGNORE_INDEX, class_names=list(info.classes)
        ).as_dict()
    else:
        predictions = [amap >= threshold for amap in maps]
        for stem, prediction in zip(stems, predictions, strict=True):
            save_image_atomic(mask_to_image(prediction), out_dir / "predictions" / f"{stem}.png")
        segmentation_results = segmentation_metrics(
            [p.astype(np.int64) for p in predictions],
            [m.astype(np.int64) for m in masks],
            2,
            class_names=list(info.classes),
        ).as_dict()
    results = {
        "localization": {**localization.scalars(), "image_score": DESCRIPTIONS[image_score]},
        "segmentation": segmentation_results,
    }
    files = {
        "maps": out_dir / "maps",
        "masks": out_dir / "masks",
        "predictions": out_dir / "predictions",
        "image_scores": score_file,
        **class_files,
    }
    return Scores(results, dict(localization.curves), files)


def score_classifier(
    info: CheckpointInfo, items: Sequence[InspectionItem], inference: Inference, out_dir: Path
) -> Scores:
    """Accuracy, balanced accuracy, per-class accuracy and the confusion matrix of the defect types."""
    from defect_metrics import classification_metrics

    assert inference.probabilities is not None
    labels = [i.label for i in items]
    predicted = [info.classes[k] for k in inference.probabilities.argmax(axis=1)]
    extra = sorted(set(labels) - set(info.classes))
    if extra:
        logger.warning("test class(es) %s are not classes of the model: always counted wrong", extra)
    metrics = classification_metrics(labels, predicted, classes=[*info.classes, *extra])
    rows = [
        [str(item.image), label, pred, *(f"{p:.6f}" for p in probs)]
        for item, label, pred, probs in zip(items, labels, predicted, inference.probabilities, strict=True)
    ]
    csv_path = write_csv(
        out_dir / "predictions.csv", ["image", "label", "prediction", *(f"p_{c}" for c in info.classes)], rows
    )
    return Scores({"classification": metrics.as_dict()}, {}, {"predictions": csv_path})


def score_detector(
    info: CheckpointInfo,
    items: Sequence[InspectionItem],
    inference: Inference,
    out_dir: Path,
    threshold: float,
) -> Scores:
    """Image AUROC, average precision (DIAG's metric) and F1-max of P(defect); accuracy at ``threshold``."""
    from defect_metrics import auroc, average_precision, classification_metrics, f1_max

    assert inference.scores is not None
    scores = inference.scores.astype(np.float64)
    truth = np.array([i.is_defect for i in items], dtype=bool)
    labels = [DEFECT if t else GOOD for t in truth]
    predicted = [DEFECT if s >= threshold else GOOD for s in scores]
    both = bool(truth.any() and not truth.all())
    if not both:
        logger.warning(
            "the test set has only %s images: AUROC, AP and F1-max are undefined",
            "defect" if truth.all() else "defect-free",
        )
    detection: dict[str, Any] = {
        "auroc": auroc(scores, truth) if both else None,
        "ap": average_precision(scores, truth) if both else None,
        "f1_max": f1_max(scores, truth) if truth.any() else None,
        "images": int(truth.size),
        "defective_images": int(truth.sum()),
    }
    accuracy = classification_metrics(labels, predicted, classes=[GOOD, DEFECT])
    rows = [
        [str(item.image), label, pred, f"{score:.6f}"]
        for item, label, pred, score in zip(items, labels, predicted, scores, strict=True)
    ]
    csv_path = write_csv(out_dir / "predictions.csv", ["image", "label", "prediction", "score"], rows)
    return Scores(
        {"detection": detection, "classification": accuracy.as_dict()}, {}, {"predictions": csv_path}
    )


def picture_rows(
    info: CheckpointInfo, items: Sequence[InspectionItem], inference: Inference, count: int, threshold: float
) -> list[PictureRow]:
    """Up to ``count`` rows for ``predictions.png``, every class represented."""
    rows = []
    for k in spread_indices([i.label for i in items], count):
        item = items[k]
        image = item.load_image()
        mask = item.load_mask(image.size)
        if info.task == "segmenter":
            rows.append(PictureRow(image, mask, item.label, inference.maps[k], threshold))
        elif info.task == "classifier":
            assert inference.probabilities is not None
            probs = inference.probabilities[k]
            rows.append(
                PictureRow(
                    image, mask, f"{item.label}->{info.classes[int(probs.argmax())]} {probs.max():.2f}"
                )
            )
        else:
            assert inference.scores is not None
            rows.append(PictureRow(image, mask, f"{item.label} p={inference.scores[k]:.2f}"))
    return rows


def score_items(
    model: nn.Module,
    info: CheckpointInfo,
    items: Sequence[InspectionItem],
    out_dir: str | Path,
    *,
    device: torch.device,
    batch_size: int = 16,
    mixed_precision: bool = True,
    threshold: float | None = None,
    preview_count: int = 8,
    num_workers: int = 0,
    picture_path: str | Path | None = None,
    progress: bool = False,
    image_score: str = "pooled",
) -> Scores:
    """Run ``model`` on ``items``, write the files of the module docstring into ``out_dir``, return the metrics.

    ``threshold`` (default: the checkpoint's) turns P(defect) into a mask (segmenter) or a decision (detector);
    the picture goes to ``picture_path`` (default ``out_dir/predictions.png``); ``image_score``: how a
    segmenter's map becomes an image score (:mod:`defect_inspect.evaluation.image_score`).
    """
    if not items:
        raise ValueError("no test items to score")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = info.threshold if threshold is None else threshold
    inference = run_inference(
        model,
        info,
        [i.image for i in items],
        device=device,
        batch_size=batch_size,
        mixed_precision=mixed_precision,
        num_workers=num_workers,
        progress=progress,
    )
    if info.task == "segmenter":
        scores = score_segmenter(info, items, inference, out_dir, threshold, image_score)
    elif info.task == "classifier":
        scores = score_classifier(info, items, inference, out_dir)
    else:
        scores = score_detector(info, items, inference, out_dir, threshold)
    picture = prediction_picture(
        picture_rows(info, items, inference, preview_count, threshold), picture_path or out_dir / PICTURE_NAME
    )
    return Scores(scores.results, scores.curves, {**scores.files, "picture": picture})
