"""Per-region overlap (PRO) curve and the area under it up to a false-positive-rate limit (AUPRO).

The algorithm of the MVTec AD evaluation code (Bergmann et al., ``compute_pro`` and ``trapezoid``), which
needs one sort instead of one pass over the images per threshold:

- regions are the 8-connected components of each ground-truth mask, counted separately per image;
- every defect-free pixel carries weight 1 towards the false positives, every pixel of region r carries
  weight ``1 / |r|`` towards the overlap;
- after one descending sort of all pixels, cumulative sums of these weights give, at every distinct score t
  (tied pixels enter together), ``FPR(t) = #(ok pixels >= t) / #ok pixels`` and
  ``PRO(t) = mean over regions of |r ∩ {>= t}| / |r|``;
- the curve starts at (0, 0) and ends at (1, 1); the area up to ``fpr_limit`` is integrated by trapezoids,
  the last trapezoid cut at the limit by linear interpolation, and divided by ``fpr_limit`` so that a
  perfect detector scores 1.

Values are accumulated in float64 and clipped to 1, so AUPRO never exceeds 1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from defect_metrics.map_pairs import ArrayStack, MapPairs
from defect_metrics.ranking import RankedScores

logger = logging.getLogger(__name__)

#: 8-connectivity: diagonal neighbours belong to the same region, as in the MVTec AD evaluation code.
EIGHT_CONNECTIVITY = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class ProCurve:
    """``fpr`` and ``pro``: float64 (k + 2,), non-decreasing, from (0, 0) to (1, 1); ``regions``: how many."""

    fpr: np.ndarray
    pro: np.ndarray
    regions: int

    def area(self, fpr_limit: float = 0.3) -> float:
        """Area under the curve for FPR in [0, fpr_limit], divided by ``fpr_limit``; in [0, 1]."""
        return area_to_limit(self.fpr, self.pro, fpr_limit) / fpr_limit


@dataclass(frozen=True)
class Regions:
    """Defect regions of a list of masks: ``ids`` uint32, flat over all masks (concatenated in order), 0 on
    defect-free pixels and 1..R on the pixels of region r; ``sizes`` int64 (R,) pixels per region."""

    ids: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, masks: list[np.ndarray]) -> Regions:
        """8-connected components of each mask, numbered consecutively across masks."""
        ids = np.zeros(sum(m.size for m in masks), dtype=np.uint32)
        sizes = [np.zeros(0, dtype=np.int64)]
        start = offset = 0
        for mask in masks:
            labelled, count = ndimage.label(mask, structure=EIGHT_CONNECTIVITY)
            flat = labelled.ravel()
            inside = flat > 0
            ids[start : start + flat.size][inside] = flat[inside] + offset
            sizes.append(np.bincount(flat, minlength=count + 1)[1:])
            start += flat.size
            offset += count
        return cls(ids=ids, sizes=np.concatenate(sizes))

    @property
    def count(self) -> int:
        """Number of regions over all masks."""
        return int(self.sizes.size)

    def positive_tags(self) -> np.ndarray:
        """bool (R + 1,): False for tag 0 (defect-free), True for every region."""
        return np.arange(self.count + 1) > 0


def pro_curve_from_ranking(ranking: RankedScores, regions: Regions) -> ProCurve:
    """The PRO curve from a ranking of all pixels tagged with ``regions.ids`` (shared with the ROC curve)."""
    if regions.count == 0:
        raise ValueError("the PRO curve needs at least one defect region, but every mask is empty")
    ok_tags = ~regions.positive_tags()
    ok_pixels = ranking.size - int(regions.sizes.sum())
    if ok_pixels == 0:
        raise ValueError(
            "the PRO curve needs defect-free pixels for its false positive rate, but there are none"
        )
    overlap_weights = np.concatenate([[0.0], 1.0 / regions.sizes])
    fpr = np.minimum(ranking.cumulative(ok_tags) / ok_pixels, 1.0)
    pro = np.minimum(ranking.cumulative(overlap_weights) / regions.count, 1.0)
    fpr = np.concatenate([[0.0], fpr, [1.0]])
    pro = np.concatenate([[0.0], pro, [1.0]])
    return ProCurve(fpr=fpr, pro=pro, regions=regions.count)


def pro_curve(anomaly_maps: ArrayStack, masks: ArrayStack) -> ProCurve:
    """The PRO curve of ``anomaly_maps`` (float (N, H, W) or list of (H_i, W_i)) against ``masks`` (bool)."""
    pairs = MapPairs.of(anomaly_maps, masks)
    regions = Regions.of(pairs.masks)
    return pro_curve_from_ranking(RankedScores.of(pairs.flat_scores(), regions.ids), regions)


def area_to_limit(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under y(x) for x in [x[0], limit]; the segment crossing ``limit`` is interpolated.

    ``x`` must be non-decreasing with ``x[0] <= limit <= x[-1]`` (``ValueError`` otherwise). Repeated x values
    (vertical steps) add no area; at ``x == limit`` the highest point counts, as in MVTec's ``trapezoid``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"x and y must be 1-D with the same length >= 2, got {x.shape} and {y.shape}")
    if not x[0] <= limit <= x[-1]:
        raise ValueError(f"limit {limit} is outside the curve's x range [{x[0]}, {x[-1]}]")
    # Points strictly after the last one with x <= limit are cut away, and replaced by the interpolated
    # point at the limit when the limit falls inside a segment.
    inside = int(np.searchsorted(x, limit, side="right"))
    area = float(np.sum(np.diff(x[:inside]) * (y[1:inside] + y[: inside - 1])) / 2.0)
    if x[inside - 1] < limit:
        x0, x1, y0, y1 = x[inside - 1], x[inside], y[inside - 1], y[inside]
        y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
        area += 0.5 * (y0 + y_limit) * (limit - x0)
    return area


def aupro(anomaly_maps: ArrayStack, masks: ArrayStack, fpr_limit: float = 0.3) -> float:
    """Normalised area under the PRO curve up to ``fpr_limit`` (default 0.3), in [0, 1].

    ``anomaly_maps``: float (N, H, W) or a list of (H_i, W_i) arrays, higher = more anomalous;
    ``masks``: bool of the same shapes, True on defect pixels. At least one mask needs a defect region.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    return pro_curve(anomaly_maps, masks).area(fpr_limit)
