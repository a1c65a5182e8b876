"""The boundary of a region as one polygon along pixel edges, exact under COCO's rasteriser.

Coordinates are pixel corners: pixel (x, y) is the square [x, x + 1) x [y, y + 1), the convention of COCO
(``pycocotools`` fills the pixels whose centres lie inside a polygon) and of YOLO's normalised coordinates.
A polygon that follows the pixel edges (a "crack" contour, unlike the pixel-centre contours of
``cv2.findContours``) therefore covers exactly the region's pixels: no pixel centre lies on it, so nothing
is lost or gained at the border, one-pixel regions included (a unit square).

Holes: COCO's list of polygons is a union (a second polygon cannot cut a hole) and YOLO-seg has one polygon
per line, so every hole is joined to the outside by a zero-width cut (a "keyhole" polygon): a vertical
segment along a pixel edge, walked down and back up. It crosses no pixel centre and is crossed twice in the
same place by any column, so an even-odd rasteriser (pycocotools, a scan-line fill) reproduces the hole
exactly. Each hole is cut upwards to the nearest boundary above it, so cuts cross no other boundary.

With 8-connectivity (:mod:`defect_core.exports.regions`), two pixels that touch only at a corner are one
region: its boundary passes that corner twice, turning left there (the walk keeps the region on its right).
"""

from __future__ import annotations

import numpy as np

# unit steps in image coordinates (x right, y down): up, right, down, left
_STEPS = ((0, -1), (1, 0), (0, 1), (-1, 0))
_UP, _RIGHT, _DOWN, _LEFT = range(4)


def _outgoing_edges(padded: np.ndarray) -> np.ndarray:
    """bool (4, h + 1, w + 1) for a mask padded by one pixel of background, (h + 2, w + 2): entry [d, Y, X]
    says whether a boundary edge leaves the corner (X, Y) of the unpadded mask going up / right / down /
    left (d = 0..3) with the region on its right."""
    nw, ne = padded[:-1, :-1], padded[:-1, 1:]
    sw, se = padded[1:, :-1], padded[1:, 1:]
    return np.stack([ne & ~nw, se & ~ne, sw & ~se, nw & ~sw])


def _trace_loops(mask: np.ndarray) -> list[np.ndarray]:
    """Every closed boundary of ``mask`` (bool (h, w)) as an int array (n, 2) of its corner vertices (x, y)
    in the mask's own coordinates, walked with the region on the right: outer boundaries have positive
    shoelace area in image coordinates (y down), holes negative."""
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    # entry [Y, X] of these arrays is the corner (X, Y) of the unpadded mask (the padding shifts both by one)
    outgoing = _outgoing_edges(padded)
    remaining = outgoing.copy()
    loops = []
    while remaining.any():
        d, y, x = (int(v) for v in np.argwhere(remaining)[0])
        start = (x, y, d)
        points = []
        while True:
            remaining[d, y, x] = False
            points.append((x, y))
            x, y = x + _STEPS[d][0], y + _STEPS[d][1]
            exits = outgoing[:, y, x]
            # two exits: a saddle (two pixels touching at this corner); turning left keeps the two pixels in
            # one boundary (8-connectivity), turning right would split them (4-connectivity)
            d = int(np.argmax(exits)) if exits.sum() == 1 else (d + 3) % 4
            if (x, y, d) == start:
                break
        loops.append(_corners(np.asarray(points, dtype=np.int64)))
    return loops


def _corners(points: np.ndarray) -> np.ndarray:
    """Drop the vertices where a closed axis-parallel walk goes straight on (unit steps -> turning points)."""
    before = points - np.roll(points, 1, axis=0)
    after = np.roll(points, -1, axis=0) - points
    turns = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0] != 0
    return points[turns]


def signed_area(polygon: np.ndarray) -> float:
    """Shoelace area of a closed polygon (n, 2) in image coordinates: positive when it runs clockwise on
    screen (y down), as outer boundaries do here; a keyhole polygon's area is its region's pixel count."""
    x, y = polygon[:, 0].astype(np.float64), polygon[:, 1].astype(np.float64)
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2.0


def _horizontal_edges(loops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(y, x_min, x_max, loop index) of every horizontal edge of ``loops``."""
    ys, lo, hi, owner = [], [], [], []
    for k, loop in enumerate(loops):
        nxt = np.roll(loop, -1, axis=0)
        flat = loop[:, 1] == nxt[:, 1]
        ys.append(loop[flat, 1])
        lo.append(np.minimum(loop[flat, 0], nxt[flat, 0]))
        hi.append(np.maximum(loop[flat, 0], nxt[flat, 0]))
        owner.append(np.full(int(flat.sum()), k))
    return tuple(np.concatenate(a) for a in (ys, lo, hi, owner))  # type: ignore[return-value]


def _splice(target: list[tuple[int, int]], hit: tuple[int, int], hole: list[tuple[int, int]]) -> None:
    """Insert ``hole`` (starting at its cut vertex) into ``target`` at the point ``hit`` of one of its
    horizontal edges, joined by a cut walked down and back up."""
    hx, hy = hit
    n = len(target)
    for i in range(n):
        (ax, ay), (bx, by) = target[i], target[(i + 1) % n]
        if ay == by == hy and min(ax, bx) <= hx <= max(ax, bx):
            cut = [hit] if hit != target[i] else []
            back = [hit] if hit != target[(i + 1) % n] else []
            target[i + 1 : i + 1] = [*cut, *hole, hole[0], *back]
            return
    raise RuntimeError(f"internal: no horizontal edge through {hit} in the boundary to cut into")


def _bridge_holes(outer: np.ndarray, holes: list[np.ndarray]) -> list[tuple[int, int]]:
    """One keyhole polygon: each hole joined by a vertical cut from its top-left corner up to the nearest
    horizontal boundary edge above it (the outer boundary or another hole, whichever comes first)."""
    loops = [outer, *holes]
    current = [[(int(x), int(y)) for x, y in loop] for loop in loops]
    edge_y, edge_lo, edge_hi, edge_owner = _horizontal_edges(loops)
    tops = []
    for k, loop in enumerate(loops[1:], start=1):
        top = int(loop[:, 1].min())
        left = int(loop[loop[:, 1] == top, 0].min())
        tops.append((top, left, k))
    # lowest holes first: the boundary a hole is cut to lies higher up, so it is spliced into its own
    # target later and carries this hole along
    for top, left, k in sorted(tops, reverse=True):
        above = (edge_y < top) & (edge_lo <= left) & (left <= edge_hi) & (edge_owner != k)
        candidates = np.flatnonzero(above)
        if len(candidates) == 0:
            raise RuntimeError("internal: a hole with no boundary above it")
        best = candidates[np.argmax(edge_y[candidates])]
        hole = current[k]
        start = hole.index((left, top))
        _splice(current[int(edge_owner[best])], (left, int(edge_y[best])), hole[start:] + hole[:start])
    return current[0]


def region_polygon(mask: np.ndarray, top: int = 0, left: int = 0) -> np.ndarray:
    """The boundary of one 8-connected region as a single polygon along pixel edges, holes included by
    zero-width cuts: int array (n, 2) of corner vertices (x, y) in image coordinates (``mask`` is the
    region's bounding box, bool (h, w), whose top-left pixel is (``left``, ``top``)).

    Filled with the even-odd rule at pixel centres (pycocotools' rule) the polygon gives back exactly
    ``mask``; its shoelace area is ``mask.sum()``. Raises ``ValueError`` when ``mask`` is empty or is not
    one 8-connected region.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or not mask.any():
        raise ValueError(f"a region mask must be 2-D and non-empty, got shape {mask.shape}")
    loops = _trace_loops(mask)
    areas = [signed_area(loop) for loop in loops]
    outer = [loop for loop, area in zip(loops, areas, strict=True) if area > 0]
    holes = [loop for loop, area in zip(loops, areas, strict=True) if area < 0]
    if len(outer) != 1:
        raise ValueError(f"the mask holds {len(outer)} 8-connected regions, expected one")
    polygon = np.asarray(_bridge_holes(outer[0], holes) if holes else outer[0], dtype=np.int64)
    return polygon + np.array([left, top], dtype=np.int64)
