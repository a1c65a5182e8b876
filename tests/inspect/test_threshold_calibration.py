"""--calibrate-threshold: the segmenter's decision threshold becomes the pixel F1-max threshold of its
validation split, recomputed here with scikit-learn from the maps the run wrote, and the test split's mIoU
is the one of that threshold, recomputed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from inspect_helpers import OBJECT, tiny_config
from PIL import Image
from sklearn.metrics import precision_recall_curve

from defect_inspect import InspectConfig, load_checkpoint, train_inspection_model


def _maps_and_masks(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    maps, masks = [], []
    for path in sorted((folder / "maps").glob("*.npy")):
        maps.append(np.load(path).ravel())
        masks.append((np.asarray(Image.open(folder / "masks" / f"{path.stem}.png")) > 127).ravel())
    return np.concatenate(maps), np.concatenate(masks)


def _f1_max_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def test_threshold_is_calibrated_on_the_validation_split(
    tmp_path: Path, generated_dir: Path, synthetic_root: Path
) -> None:
    config = tiny_config(
        tmp_path,
        "segmenter",
        train=(generated_dir,),
        dataset="mvtec",
        dataset_root=synthetic_root,
        object_name=OBJECT,
        epochs=2,
        val_fraction=0.3,
        calibrate_threshold=True,
    )
    result = train_inspection_model(config, progress=False)
    training = result.metrics["results"]["training"]
    scores, truth = _maps_and_masks(result.out_dir / "validation")
    expected = _f1_max_threshold(scores, truth)
    assert training["threshold"] == pytest.approx(expected, rel=1e-5)
    assert training["threshold_from"] == "validation pixel F1-max"
    assert training["threshold"] != 0.5
    _, info = load_checkpoint(result.checkpoint)
    assert info.threshold == pytest.approx(expected, rel=1e-5)

    # the test split's mIoU is that of the calibrated threshold (two classes, IoU averaged)
    test_scores, test_truth = _maps_and_masks(result.out_dir / "test")
    predicted = test_scores >= training["threshold"]
    ious = [
        np.sum(predicted & test_truth) / np.sum(predicted | test_truth),
        np.sum(~predicted & ~test_truth) / np.sum(~predicted | ~test_truth),
    ]
    miou = result.metrics["results"]["segmentation"]["miou"]
    assert miou == pytest.approx(float(np.mean(ious)), abs=1e-6)
    assert json.loads((result.out_dir / "metrics.json").read_text())["results"]["training"] == training


def test_calibration_needs_a_validation_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="calibrate_threshold"):
        InspectConfig(
            task="segmenter", train=(tmp_path,), out=tmp_path / "o", calibrate_threshold=True, val_fraction=0
        )
    with pytest.raises(ValueError, match="calibrate_threshold"):
        InspectConfig(task="classifier", train=(tmp_path,), out=tmp_path / "o", calibrate_threshold=True)
    with pytest.raises(ValueError, match="calibrate_threshold"):
        InspectConfig(
            task="segmenter", train=(tmp_path,), out=tmp_path / "o", calibrate_threshold=True, classes="multi"
        )
