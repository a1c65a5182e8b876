"""Pixel and image metrics of anomaly maps against scikit-learn on the same samples, and the one-sort
``localization_metrics`` against the single-metric functions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from defect_metrics import (
    aupro,
    image_ap,
    image_auroc,
    image_f1_max,
    image_scores,
    localization_metrics,
    pixel_ap,
    pixel_auroc,
    pixel_f1_max,
)


def _maps_and_masks(seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = [(16, 20), (24, 24), (16, 20), (10, 12), (24, 24), (12, 12)]
    maps, masks = [], []
    for index, shape in enumerate(shapes):
        mask = np.zeros(shape, dtype=bool)
        if index % 2 == 0:
            y, x = rng.integers(0, shape[0] - 5), rng.integers(0, shape[1] - 5)
            mask[y : y + 4, x : x + 5] = True
        maps.append((rng.random(shape) + 0.7 * mask).astype(np.float32))
        masks.append(mask)
    return maps, masks


def _box_mean_symmetric(amap: np.ndarray, size: int) -> np.ndarray:
    """k x k mean with mirrored borders (d c b a | a b c d), written out with shifts."""
    half = size // 2
    padded = np.pad(amap.astype(np.float64), half, mode="symmetric")
    height, width = amap.shape
    total = sum(padded[dy : dy + height, dx : dx + width] for dy in range(size) for dx in range(size))
    return total / size**2


def test_pixel_metrics_equal_sklearn_over_all_pixels():
    maps, masks = _maps_and_masks()
    scores = np.concatenate([m.ravel() for m in maps])
    labels = np.concatenate([m.ravel() for m in masks])
    assert pixel_auroc(maps, masks) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert pixel_ap(maps, masks) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    precision, recall, _ = precision_recall_curve(labels, scores)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0
    )
    assert pixel_f1_max(maps, masks) == pytest.approx(f1.max(), abs=1e-12)


@pytest.mark.parametrize("smoothing", [0, 3, 5])
def test_image_metrics_use_the_max_of_the_smoothed_map(smoothing):
    maps, masks = _maps_and_masks(1)
    smoothed = maps if smoothing == 0 else [_box_mean_symmetric(m, smoothing) for m in maps]
    expected_scores = np.array([m.max() for m in smoothed])
    labels = np.array([m.any() for m in masks])
    assert image_scores(maps, smoothing) == pytest.approx(expected_scores, abs=1e-6)
    assert image_auroc(maps, masks, smoothing) == pytest.approx(
        roc_auc_score(labels, expected_scores), abs=1e-9
    )
    assert image_ap(maps, masks, smoothing) == pytest.approx(
        average_precision_score(labels, expected_scores), abs=1e-9
    )
    brute = max(
        2 * np.sum((expected_scores >= t) & labels) / (np.sum(expected_scores >= t) + labels.sum())
        for t in expected_scores
    )
    assert image_f1_max(maps, masks, smoothing) == pytest.approx(brute, abs=1e-12)


def test_one_sort_gives_the_same_values_as_the_single_functions():
    maps, masks = _maps_and_masks(2)
    metrics = localization_metrics(maps, masks, fpr_limit=0.3, smoothing=3)
    assert metrics.pixel_auroc == pytest.approx(pixel_auroc(maps, masks), abs=1e-15)
    assert metrics.pixel_ap == pytest.approx(pixel_ap(maps, masks), abs=1e-15)
    assert metrics.pixel_f1_max == pytest.approx(pixel_f1_max(maps, masks), abs=1e-15)
    assert metrics.aupro == pytest.approx(aupro(maps, masks, 0.3), abs=1e-15)
    assert metrics.image_auroc == pytest.approx(image_auroc(maps, masks, 3), abs=1e-15)
    assert (metrics.images, metrics.defective_images, metrics.regions) == (6, 3, 3)
    assert metrics.pixels == sum(m.size for m in maps)
    assert metrics.defect_pixels == sum(int(m.sum()) for m in masks)
    assert set(metrics.curves) == {"pixel_roc", "pixel_pr", "pro", "image_roc", "image_pr"}
    assert "curves" not in metrics.scalars()


def test_curves_are_thinned_for_reports():
    rng = np.random.default_rng(0)
    maps = rng.random((2, 64, 64))
    masks = np.zeros((2, 64, 64), dtype=bool)
    masks[0, 10:30, 10:30] = True
    curves = localization_metrics(maps, masks).curves
    assert len(curves["pixel_roc"]["x"]) <= 512
    assert curves["pixel_roc"]["x"][0] == 0.0 and curves["pixel_roc"]["x"][-1] == 1.0


def test_undefined_metrics_are_none():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 8, 8))
    masks = np.zeros((3, 8, 8), dtype=bool)
    masks[:, 2:4, 2:4] = True  # every image defective: image metrics undefined
    metrics = localization_metrics(maps, masks)
    assert metrics.pixel_auroc is not None and metrics.aupro is not None
    assert metrics.image_auroc is None and metrics.image_ap is None
    metrics = localization_metrics(maps, np.zeros((3, 8, 8), dtype=bool))  # no defect pixel at all
    assert metrics.pixel_auroc is None and metrics.aupro is None and metrics.image_auroc is None


def _avg_pool_zero_padded(amap: np.ndarray, size: int) -> np.ndarray:
    """avg_pool2d(amap, size, stride=1, padding=size // 2) with count_include_pad=True, as a numpy loop:
    every window's sum over the pixels inside the map, divided by size² (the zeros outside count)."""
    half = size // 2
    height, width = amap.shape
    out = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            window = amap[max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1]
            out[y, x] = window.astype(np.float64).sum() / size**2
    return out


@pytest.mark.parametrize("size", [3, 21])
def test_zero_border_is_avg_pool2d_with_counted_padding(size):
    """AnomalyDiffusion's image score: max of avg_pool2d(map, 21, stride=1, padding=10); checked against a
    numpy loop and against torch itself, on maps smaller and larger than the window."""
    import torch

    maps, masks = _maps_and_masks(3)
    maps = [*maps, np.random.default_rng(1).random((40, 33)).astype(np.float32)]
    expected = [_avg_pool_zero_padded(m, size).max() for m in maps]
    assert image_scores(maps, size, "zero") == pytest.approx(expected, abs=1e-6)
    pooled = [
        float(
            torch.nn.functional.avg_pool2d(
                torch.from_numpy(m)[None, None].double(), size, stride=1, padding=size // 2
            ).max()
        )
        for m in maps
    ]
    assert image_scores(maps, size, "zero") == pytest.approx(pooled, abs=1e-9)
    # the border matters: reflected borders give other scores on these maps
    assert image_scores(maps, size, "reflect") != pytest.approx(expected, abs=1e-6)
    labels = np.array([m.any() for m in masks] + [False])
    metrics = localization_metrics(
        maps, [*masks, np.zeros((40, 33), bool)], smoothing=size, smoothing_border="zero"
    )
    assert metrics.image_auroc == pytest.approx(roc_auc_score(labels, expected), abs=1e-12)
    assert metrics.smoothing == size and metrics.smoothing_border == "zero"


def test_image_scores_from_other_maps():
    """``image_maps``: image metrics from maps at another size (a model's own resolution), pixels from the rest."""
    maps, masks = _maps_and_masks(4)
    small = [m[::2, ::2] * 0.5 for m in maps]
    metrics = localization_metrics(maps, masks, smoothing=3, smoothing_border="zero", image_maps=small)
    labels = np.array([m.any() for m in masks])
    expected = [_avg_pool_zero_padded(m, 3).max() for m in small]
    assert metrics.image_auroc == pytest.approx(roc_auc_score(labels, expected), abs=1e-12)
    assert metrics.pixel_auroc == pytest.approx(pixel_auroc(maps, masks), abs=1e-12)
    with pytest.raises(ValueError, match="image_maps: 2 maps for 6 images"):
        localization_metrics(maps, masks, image_maps=small[:2])
    with pytest.raises(ValueError, match="odd"):
        image_scores(maps, 4, "zero")
    with pytest.raises(ValueError, match="border"):
        localization_metrics(maps, masks, smoothing=3, smoothing_border="wrap")
