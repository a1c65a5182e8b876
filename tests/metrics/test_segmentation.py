"""Per-class IoU and mIoU against a count of pixels written out per class."""

from __future__ import annotations

import numpy as np
import pytest

from defect_metrics import segmentation_metrics


def test_dataset_level_iou_against_pixel_counts():
    rng = np.random.default_rng(0)
    targets = [rng.integers(0, 3, (8, 9)) for _ in range(4)]
    predictions = [np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 3, t.shape)) for t in targets]
    metrics = segmentation_metrics(predictions, targets, num_classes=4)
    all_t, all_p = (
        np.concatenate([t.ravel() for t in targets]),
        np.concatenate([p.ravel() for p in predictions]),
    )
    for c in range(3):
        intersection = np.sum((all_t == c) & (all_p == c))
        union = np.sum((all_t == c) | (all_p == c))
        assert metrics.iou[c] == pytest.approx(intersection / union)
    assert metrics.iou[3] is None  # class 3 never appears: left out of the mean
    assert metrics.miou == pytest.approx(np.mean(metrics.iou[:3]))
    assert metrics.pixel_accuracy == pytest.approx(np.mean(all_t == all_p))


def test_ignore_index_and_binary_masks():
    target = np.array([[0, 1, 255], [1, 1, 0]])
    prediction = np.array([[0, 1, 1], [0, 1, 0]])
    metrics = segmentation_metrics([prediction], [target], 2, ignore_index=255, class_names=["bg", "defect"])
    assert metrics.iou == pytest.approx([2 / 3, 2 / 3])
    assert metrics.as_dict()["iou"] == {"bg": pytest.approx(2 / 3), "defect": pytest.approx(2 / 3)}


def test_errors_name_the_pair():
    with pytest.raises(ValueError, match="pair 1"):
        segmentation_metrics([np.zeros((2, 2), int)] * 2, [np.zeros((2, 2), int), np.full((2, 2), 5)], 2)
    with pytest.raises(ValueError, match="pair 0"):
        segmentation_metrics([np.zeros((2, 3), int)], [np.zeros((2, 2), int)], 2)
