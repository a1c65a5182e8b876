"""Connected regions of a class-index label image: one region per 8-connected piece of one class.

8-connectivity (pixels that touch at a corner belong together) is the usual choice for defect masks and the
one DESIGN.md §5 uses for PRO regions: a thin diagonal scratch stays one region instead of falling apart
into single pixels. The background is then 4-connected, so a region's holes are the 4-connected background
pieces it encloses (:mod:`defect_core.exports.contours` traces them).

Regions are found on horizontal runs of equal class id (union-find over touching runs of adjacent rows), so
the Python work grows with the number of runs, not with the number of pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """One 8-connected region of one class: ``mask`` (bool (h, w)) is its bounding box, whose top-left pixel
    is (``left``, ``top``) in the label image."""

    class_id: int
    top: int
    left: int
    mask: np.ndarray

    @property
    def area(self) -> int:
        """Pixel count."""
        return int(self.mask.sum())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """COCO's ``[x, y, width, height]`` of the pixels (a one-pixel region at (x, y) is (x, y, 1, 1))."""
        return (self.left, self.top, int(self.mask.shape[1]), int(self.mask.shape[0]))


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of one non-zero value per row, in raster order: (row, start, end (exclusive), value)."""
    height, width = labels.shape
    starts = np.ones((height, width), dtype=bool)
    starts[:, 1:] = labels[:, 1:] != labels[:, :-1]
    rows, cols = np.nonzero(starts)
    ends = np.empty_like(cols)
    ends[:-1] = cols[1:]
    last_in_row = np.ones(len(rows), dtype=bool)
    last_in_row[:-1] = rows[1:] != rows[:-1]
    ends[last_in_row] = width
    values = labels[rows, cols]
    keep = values != 0
    return rows[keep], cols[keep], ends[keep], values[keep]


def _touching_pairs(
    rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of runs of the same value in rows y and y + 1 that touch with 8-connectivity:
    columns [a0, a1) and [b0, b1) touch when a0 <= b1 and b0 <= a1 (a shared corner counts)."""
    stride = width + 1  # a row key that no column (0..width) can reach
    start_keys = rows * stride + starts
    end_keys = rows * stride + ends
    next_row = (rows + 1) * stride
    first = np.searchsorted(end_keys, next_row + starts, side="left")  # first run below with b1 >= a0
    stop = np.searchsorted(start_keys, next_row + ends, side="right")  # runs below with b0 <= a1
    counts = np.maximum(stop - first, 0)
    upper = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    lower = np.repeat(first, counts) + offsets
    same = values[upper] == values[lower]
    return upper[same], lower[same]


def find_regions(labels: np.ndarray) -> list[Region]:
    """The 8-connected regions of every class in ``labels`` (uint8 (H, W), 0 = background).

    Sorted by class id, then by the raster position of each region's first pixel (deterministic).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (H, W), got shape {labels.shape}")
    rows, starts, ends, values = _runs(labels)
    if len(rows) == 0:
        return []
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(*_touching_pairs(rows, starts, ends, values, labels.shape[1]), strict=True):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            # the smaller index is the root: it is the region's first run in raster order
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(root(i), []).append(i)
    regions = []
    for first, runs in members.items():
        idx = np.asarray(runs)
        top, bottom = int(rows[idx].min()), int(rows[idx].max()) + 1
        left, right = int(starts[idx].min()), int(ends[idx].max())
        mask = np.zeros((bottom - top, right - left), dtype=bool)
        for i in runs:
            mask[rows[i] - top, starts[i] - left : ends[i] - left] = True
        regions.append((int(values[first]), first, Region(int(values[first]), top, left, mask)))
    regions.sort(key=lambda entry: (entry[0], entry[1]))
    return [region for _, _, region in regions]
