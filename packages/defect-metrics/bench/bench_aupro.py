"""AUPRO by one global sort vs. the per-threshold reference loop, on 100 maps of 256 x 256.

The reference loop is the textbook definition, written efficiently (connected components labelled once, one
vectorised pass over all pixels per threshold). It is exact only when it visits every distinct score, so the
timed comparison uses maps quantised to ``--levels`` values, where both must agree to rounding. For
continuous maps (6.5 M distinct scores) the loop's cost is extrapolated from its measured time per threshold.

Run: ``uv run python packages/defect-metrics/bench/bench_aupro.py``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from defect_metrics import aupro


def make_maps(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, size, size), dtype=bool)
    for index in range(count // 2):
        for _ in range(rng.integers(1, 4)):
            y, x = rng.integers(0, size - 40, 2)
            h, w = rng.integers(3, 40, 2)
            masks[index, y : y + h, x : x + w] = True
    noise = ndimage.gaussian_filter(rng.random((count, size, size)), sigma=(0, 2, 2))
    maps = (noise + 0.15 * ndimage.gaussian_filter(masks.astype(float), sigma=(0, 3, 3))).astype(np.float32)
    return maps, masks


class ReferenceLoop:
    """PRO by thresholding: per threshold, FPR over defect-free pixels and the mean overlap of the regions."""

    def __init__(self, maps: np.ndarray, masks: np.ndarray) -> None:
        labels = np.zeros(masks.shape, dtype=np.int64)
        offset = 0
        for index, mask in enumerate(masks):
            labelled, count = ndimage.label(mask, structure=np.ones((3, 3)))
            labels[index] = np.where(labelled > 0, labelled + offset, 0)
            offset += count
        self.scores = maps.ravel()
        self.labels = labels.ravel()
        self.ok = self.labels == 0
        self.regions = offset
        self.region_sizes = np.bincount(self.labels, minlength=offset + 1)[1:].astype(np.float64)
        self.ok_pixels = int(self.ok.sum())

    def point(self, threshold: float) -> tuple[float, float]:
        above = self.scores >= threshold
        fpr = np.count_nonzero(above & self.ok) / self.ok_pixels
        hits = np.bincount(self.labels[above], minlength=self.regions + 1)[1:]
        return fpr, float(np.mean(hits / self.region_sizes))

    def aupro(self, thresholds: np.ndarray, limit: float) -> float:
        points = [(0.0, 0.0)] + [self.point(t) for t in np.sort(thresholds)[::-1]] + [(1.0, 1.0)]
        x, y = np.array(points).T
        inside = int(np.searchsorted(x, limit, side="right"))
        area = float(np.sum(np.diff(x[:inside]) * (y[1:inside] + y[: inside - 1])) / 2)
        if x[inside - 1] < limit:
            y_limit = y[inside - 1] + (y[inside] - y[inside - 1]) * (limit - x[inside - 1]) / (
                x[inside] - x[inside - 1]
            )
            area += 0.5 * (y[inside - 1] + y_limit) * (limit - x[inside - 1])
        return area / limit


def best_time(function, repeats: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--levels", type=int, default=1000, help="distinct scores of the quantised maps")
    parser.add_argument("--limit", type=float, default=0.3)
    args = parser.parse_args()

    maps, masks = make_maps(args.maps, args.size, seed=0)
    print(f"{args.maps} maps of {args.size}x{args.size} = {maps.size:,} pixels")

    low, high = maps.min(), maps.max()
    quantised = (np.floor((maps - low) / (high - low) * (args.levels - 1e-6)) / args.levels).astype(
        np.float32
    )
    ours_time, ours = best_time(lambda: aupro(quantised, masks, args.limit), 3)
    reference = ReferenceLoop(quantised, masks)
    thresholds = np.unique(quantised)
    start = time.perf_counter()
    expected = reference.aupro(thresholds, args.limit)
    loop_time = time.perf_counter() - start
    print(f"quantised maps ({thresholds.size} distinct scores)")
    print(f"  one sort         {ours_time:8.3f} s   AUPRO {ours:.9f}")
    print(f"  reference loop   {loop_time:8.3f} s   AUPRO {expected:.9f}   |diff| {abs(ours - expected):.1e}")
    print(f"  speed-up         {loop_time / ours_time:8.1f} x")

    ours_time, ours = best_time(lambda: aupro(maps, masks, args.limit), 3)
    continuous = ReferenceLoop(maps, masks)
    distinct = np.unique(maps).size
    sample = np.random.default_rng(1).choice(np.unique(maps), 20, replace=False)
    start = time.perf_counter()
    for threshold in sample:
        continuous.point(threshold)
    per_threshold = (time.perf_counter() - start) / sample.size
    print(f"continuous maps ({distinct:,} distinct scores)")
    print(f"  one sort         {ours_time:8.3f} s   AUPRO {ours:.9f}")
    print(
        f"  reference loop   {per_threshold * distinct:8.0f} s   (extrapolated: {per_threshold * 1e3:.1f} ms per threshold)"
    )
    print(f"  speed-up         {per_threshold * distinct / ours_time:8.0f} x (extrapolated)")


if __name__ == "__main__":
    main()
