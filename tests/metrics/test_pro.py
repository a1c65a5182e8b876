"""AUPRO against a straightforward reference (a loop over thresholds and connected components) and the
known vectors of the anomalib / MVTec tests."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from defect_metrics import aupro, pro_curve
from defect_metrics.pro import area_to_limit


def _regions_8_connected(mask: np.ndarray) -> list[np.ndarray]:
    """Connected components by breadth-first search over the 8 neighbours (independent of scipy)."""
    seen = np.zeros(mask.shape, dtype=bool)
    regions = []
    height, width = mask.shape
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        region = np.zeros(mask.shape, dtype=bool)
        queue = deque([start])
        seen[start] = True
        while queue:
            y, x = queue.popleft()
            region[y, x] = True
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
        regions.append(region)
    return regions


def _reference_curve(maps: list[np.ndarray], masks: list[np.ndarray]) -> list[tuple[float, float]]:
    regions = [(i, r) for i, mask in enumerate(masks) for r in _regions_8_connected(mask)]
    ok_pixels = sum(int((~m).sum()) for m in masks)
    points = [(0.0, 0.0)]
    for threshold in np.unique(np.concatenate([m.ravel() for m in maps]))[::-1]:
        false_positives = sum(int(((a >= threshold) & ~m).sum()) for a, m in zip(maps, masks, strict=True))
        overlaps = [((maps[i] >= threshold) & r).sum() / r.sum() for i, r in regions]
        points.append((false_positives / ok_pixels, float(np.mean(overlaps))))
    points.append((1.0, 1.0))
    return points


def _reference_area(points: list[tuple[float, float]], limit: float) -> float:
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 >= limit:
            break
        if x1 <= limit:
            area += (x1 - x0) * (y0 + y1) / 2
        else:
            y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            area += (limit - x0) * (y0 + y_limit) / 2
    return area / limit


def _random_case(seed: int, levels: int | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for index in range(4):
        shape = (20, 24) if index % 2 else (18, 18)
        mask = np.zeros(shape, dtype=bool)
        for _ in range(rng.integers(0, 3)):
            y, x = rng.integers(0, shape[0] - 4), rng.integers(0, shape[1] - 4)
            mask[y : y + rng.integers(1, 5), x : x + rng.integers(1, 5)] = True
        mask |= rng.random(shape) < 0.02  # scattered pixels: single-pixel and diagonal regions
        amap = rng.random(shape) + 0.6 * mask
        if levels is not None:
            amap = np.floor(amap * levels) / levels  # many ties
        maps.append(amap.astype(np.float32))
        masks.append(mask)
    masks[0][2, 2] = True  # at least one region
    return maps, masks


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("levels", [None, 6])
def test_equals_reference_loop_on_random_maps(seed, levels):
    maps, masks = _random_case(seed, levels)
    points = _reference_curve(maps, masks)
    for limit in (0.3, 0.05, 1 / 3, 1.0):
        assert aupro(maps, masks, fpr_limit=limit) == pytest.approx(_reference_area(points, limit), abs=1e-6)


def test_known_vectors_give_one_sixth():
    labels = np.array([[0, 0, 0, 1, 0, 0, 0]] * 400, dtype=bool)
    predictions = (np.arange(2800) / 2800.0).reshape(400, 7)
    value = aupro(predictions[None], labels[None], fpr_limit=1 / 3)
    assert value == pytest.approx(1 / 6, abs=1e-5)
    # Exactly: each full row of 7 pixels adds (2k + 1) / 320000 for rows k = 0..132 from the top score, and
    # the limit falls 2 of the 3 false positives into row 133 at PRO 133/400; times 3 for the normalisation.
    exact = 3 * (133**2 / 320000 + (2 / 2400) * (133 / 400))
    assert value == pytest.approx(exact, abs=1e-12)


def test_perfect_and_inverted_maps():
    mask = np.zeros((16, 16), dtype=bool)
    mask[4:8, 4:8] = True
    mask[12, 12] = True
    assert aupro(mask.astype(float)[None], mask[None]) == pytest.approx(1.0)
    # The worst map ranks every defect pixel last: PRO stays 0 until FPR is 1.
    assert aupro((~mask).astype(float)[None], mask[None]) == pytest.approx(0.0)


def test_diagonal_pixels_form_one_region():
    mask = np.zeros((5, 5), dtype=bool)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = True
    mask[0, 4] = True
    assert pro_curve(np.zeros((5, 5))[None], mask[None]).regions == 2


def test_value_never_exceeds_one_and_curve_is_monotone():
    maps, masks = _random_case(5, None)
    curve = pro_curve(maps, masks)
    assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.pro) >= -1e-15)
    assert curve.fpr[0] == curve.pro[0] == 0 and curve.fpr[-1] == curve.pro[-1] == 1
    assert 0 <= curve.area(0.3) <= 1


def test_area_to_limit_interpolates_inside_a_segment():
    x, y = np.array([0.0, 0.2, 0.4, 1.0]), np.array([0.0, 0.5, 1.0, 1.0])
    # Up to 0.3: triangle 0.2 * 0.5 / 2 + trapezoid 0.1 * (0.5 + 0.75) / 2.
    assert area_to_limit(x, y, 0.3) == pytest.approx(0.05 + 0.0625)
    assert area_to_limit(x, y, 0.2) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="outside"):
        area_to_limit(x, y, 1.5)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="at least one defect region"):
        aupro(np.random.default_rng(0).random((2, 4, 4)), np.zeros((2, 4, 4), dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        aupro(np.zeros((1, 4, 4)), np.ones((1, 4, 5), dtype=bool))
    with pytest.raises(ValueError, match="fpr_limit"):
        aupro(np.zeros((1, 4, 4)), np.ones((1, 4, 4), dtype=bool), fpr_limit=0.0)
    with pytest.raises(ValueError, match="NaN"):
        aupro(np.full((1, 4, 4), np.nan), np.ones((1, 4, 4), dtype=bool))
