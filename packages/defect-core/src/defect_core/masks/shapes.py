"""Seeded generators of defect-mask shapes, drawn with ``PIL.ImageDraw``.

Every generator has the signature ``f(size, rng, **params) -> bool ndarray`` where ``size`` is
``(height, width)`` (numpy's order) and ``rng`` is a ``numpy.random.Generator``, the only source of
randomness, so the same seed gives the same mask. The result is bool (height, width) and never empty.

Sizes are fractions of the image's short side (``min(height, width)``) unless said otherwise, so a shape
keeps its proportions on non-square images. Each shape is built around the origin, then shifted to a
uniform position among those that keep it whole inside the image; only a shape larger than the image is
clipped (its centre is then uniform). A whole shape keeps its drawn size and form when
:mod:`defect_core.masks.placement` moves it onto the object.

``random_boxes`` is DefectFill's M_rand for the object branch (30 boxes, sides 3-25 % of the image side).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


# f(size: (height, width), rng: numpy Generator, **params) -> bool (height, width)
ShapeFn = Callable[..., np.ndarray]


_REGISTRY: dict[str, ShapeFn] = {}


def register_shape(name: str) -> Callable[[ShapeFn], ShapeFn]:
    """Decorator that makes a generator available to :func:`create_mask` under ``name``."""

    def decorate(fn: ShapeFn) -> ShapeFn:
        if name in _REGISTRY:
            raise ValueError(f"mask shape {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return decorate


def available_shapes() -> list[str]:
    """Names accepted by :func:`create_mask`, sorted."""
    return sorted(_REGISTRY)


def create_mask(name: str, size: tuple[int, int], rng: np.random.Generator, **params: object) -> np.ndarray:
    """Generate a mask of the registered shape ``name``: bool (height, width), never empty."""
    try:
        fn = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown mask shape {name!r}; available: {', '.join(available_shapes())}") from None
    return fn(size, rng, **params)


# ---------------------------------------------------------------------------------------------- helpers


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    height, width = (int(v) for v in size)
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be (height, width) with positive values, got {size!r}")
    return height, width


def _check_rng(rng: np.random.Generator) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _check_fracs(min_frac: float, max_frac: float) -> None:
    if not 0.0 < min_frac <= max_frac <= 1.0:
        raise ValueError(f"need 0 < min_frac <= max_frac <= 1, got min_frac={min_frac}, max_frac={max_frac}")


def _round_half_up(x: float) -> int:
    # Python's round() rounds half to even; half-up keeps the documented bounds monotone and simple
    return int(math.floor(x + 0.5))


def _canvas(height: int, width: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (width, height), 0)
    return image, ImageDraw.Draw(image)


def _finish(image: Image.Image, anchor: tuple[float, float]) -> np.ndarray:
    mask = np.asarray(image) >= 128
    if not mask.any():
        # only reachable for shapes far below one pixel: the promise "never empty" beats a missing defect
        height, width = mask.shape
        mask = mask.copy()
        x, y = anchor
        mask[min(max(round(y), 0), height - 1), min(max(round(x), 0), width - 1)] = True
    return mask


def _extent(height: int, width: int, rng: np.random.Generator, min_frac: float, max_frac: float) -> float:
    """A length in pixels drawn uniformly in [min_frac, max_frac] of the short side."""
    _check_fracs(min_frac, max_frac)
    return float(rng.uniform(min_frac, max_frac)) * min(height, width)


def _offset(lo: float, hi: float, extent: int, rng: np.random.Generator) -> float:
    # PIL puts pixel centres at integer coordinates, so a shape spanning [lo, hi] is fully visible when
    # shifted into [0, extent - 1]; one that cannot fit gets a uniform centre and is clipped
    if hi - lo <= extent - 1:
        return float(rng.uniform(-lo, extent - 1 - hi))
    return float(rng.uniform(0, extent)) - (lo + hi) / 2


def _position(xy: np.ndarray, margin: float, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Shift points ``xy`` (N, 2), given as (x, y) around the origin, to a uniform position in the image.

    ``margin`` is how far the drawn shape reaches beyond its points (half a line width, a disc radius).
    The position keeps the whole shape inside the image whenever it fits.
    """
    dx = _offset(xy[:, 0].min() - margin, xy[:, 0].max() + margin, width, rng)
    dy = _offset(xy[:, 1].min() - margin, xy[:, 1].max() + margin, height, rng)
    return xy + np.array([dx, dy])


def _draw_polygon(xy: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    xy = _position(xy, 0.0, height, width, rng)
    image, draw = _canvas(height, width)
    draw.polygon([(float(x), float(y)) for x, y in xy], fill=255)
    return _finish(image, (float(xy[:, 0].mean()), float(xy[:, 1].mean())))


def _radial_xy(radii: np.ndarray, angles: np.ndarray) -> np.ndarray:
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


# ------------------------------------------------------------------------------------------------ boxes


def random_box_list(
    size: tuple[int, int],
    rng: np.random.Generator,
    count: int = 30,
    min_frac: float = 0.03,
    max_frac: float = 0.25,
) -> list[Box]:
    """The boxes of DefectFill's M_rand: ``count`` boxes ``(y0, x0, y1, x1)``, end exclusive.

    Each box's height is drawn uniformly in [min_frac, max_frac] * image height and its width likewise from
    the image width (independently), rounded half-up to whole pixels and at least 1 px; its top-left corner
    is uniform over the positions that keep the whole box inside the image.
    """
    height, width = _check_size(size)
    _check_rng(rng)
    _check_fracs(min_frac, max_frac)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    boxes: list[Box] = []
    for _ in range(count):
        bh = min(height, max(1, _round_half_up(rng.uniform(min_frac, max_frac) * height)))
        bw = min(width, max(1, _round_half_up(rng.uniform(min_frac, max_frac) * width)))
        y0 = int(rng.integers(0, height - bh + 1))
        x0 = int(rng.integers(0, width - bw + 1))
        boxes.append((y0, x0, y0 + bh, x0 + bw))
    return boxes


def boxes_to_mask(boxes: list[Box], size: tuple[int, int]) -> np.ndarray:
    """Union of boxes ``(y0, x0, y1, x1)`` (end exclusive) as a bool mask of ``size`` = (height, width)."""
    height, width = _check_size(size)
    mask = np.zeros((height, width), dtype=bool)
    for y0, x0, y1, x1 in boxes:
        mask[y0:y1, x0:x1] = True
    return mask


@register_shape("boxes")
def random_boxes(
    size: tuple[int, int],
    rng: np.random.Generator,
    count: int = 30,
    min_frac: float = 0.03,
    max_frac: float = 0.25,
) -> np.ndarray:
    """DefectFill's M_rand: the union of :func:`random_box_list`'s boxes, bool (height, width).

    Axis-aligned boxes are set by array slicing rather than ``ImageDraw.rectangle`` because they are exact
    that way (PIL's rectangle includes its end coordinates).
    """
    return boxes_to_mask(random_box_list(size, rng, count=count, min_frac=min_frac, max_frac=max_frac), size)


# ----------------------------------------------------------------------------------------------- shapes


@register_shape("ellipse")
def ellipse(
    size: tuple[int, int],
    rng: np.random.Generator,
    min_frac: float = 0.05,
    max_frac: float = 0.3,
    rotate: bool = True,
) -> np.ndarray:
    """A filled ellipse whose two diameters are each in [min_frac, max_frac] of the short side.

    With ``rotate`` it is turned by a uniform angle (drawn as a 64-gon, since PIL's ellipse is axis-aligned).
    """
    height, width = _check_size(size)
    _check_rng(rng)
    ry = _extent(height, width, rng, min_frac, max_frac) / 2
    rx = _extent(height, width, rng, min_frac, max_frac) / 2
    theta = float(rng.uniform(0, math.pi)) if rotate else 0.0
    t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    ex, ey = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(theta), math.sin(theta)
    return _draw_polygon(np.stack([ex * c - ey * s, ex * s + ey * c], axis=1), height, width, rng)


@register_shape("rectangle")
def rectangle(
    size: tuple[int, int],
    rng: np.random.Generator,
    min_frac: float = 0.05,
    max_frac: float = 0.3,
    rotate: bool = True,
) -> np.ndarray:
    """A filled rectangle, sides each in [min_frac, max_frac] of the short side, optionally rotated."""
    height, width = _check_size(size)
    _check_rng(rng)
    hh = _extent(height, width, rng, min_frac, max_frac) / 2
    hw = _extent(height, width, rng, min_frac, max_frac) / 2
    theta = float(rng.uniform(0, math.pi)) if rotate else 0.0
    c, s = math.cos(theta), math.sin(theta)
    corners = np.array([(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)])
    return _draw_polygon(corners @ np.array([[c, s], [-s, c]]), height, width, rng)


@register_shape("star")
def star(
    size: tuple[int, int],
    rng: np.random.Generator,
    points: int = 5,
    min_frac: float = 0.1,
    max_frac: float = 0.35,
    inner_ratio: float = 0.45,
) -> np.ndarray:
    """A filled star with ``points`` tips at a random rotation.

    Its outer diameter is in [min_frac, max_frac] of the short side; the inner vertices lie at
    ``inner_ratio`` times the outer radius.
    """
    height, width = _check_size(size)
    _check_rng(rng)
    if points < 2:
        raise ValueError(f"points must be >= 2, got {points}")
    if not 0.0 < inner_ratio < 1.0:
        raise ValueError(f"inner_ratio must be in (0, 1), got {inner_ratio}")
    outer = _extent(height, width, rng, min_frac, max_frac) / 2
    phase = float(rng.uniform(0, 2 * math.pi))
    angles = phase + np.arange(2 * points) * math.pi / points
    radii = np.where(np.arange(2 * points) % 2 == 0, outer, outer * inner_ratio)
    return _draw_polygon(_radial_xy(radii, angles), height, width, rng)


@register_shape("polygon")
def polygon(
    size: tuple[int, int],
    rng: np.random.Generator,
    min_vertices: int = 4,
    max_vertices: int = 10,
    min_frac: float = 0.1,
    max_frac: float = 0.35,
    irregularity: float = 0.5,
) -> np.ndarray:
    """A free random polygon: vertices at sorted random angles and random radii around a centre.

    The vertex count is uniform in [min_vertices, max_vertices]; the largest diameter is in
    [min_frac, max_frac] of the short side, and each vertex's radius is uniform in
    [1 - irregularity, 1] times that radius. Sorting the angles keeps the polygon simple (no
    self-intersection).
    """
    height, width = _check_size(size)
    _check_rng(rng)
    if not 3 <= min_vertices <= max_vertices:
        raise ValueError(f"need 3 <= min_vertices <= max_vertices, got {min_vertices}, {max_vertices}")
    if not 0.0 <= irregularity < 1.0:
        raise ValueError(f"irregularity must be in [0, 1), got {irregularity}")
    radius = _extent(height, width, rng, min_frac, max_frac) / 2
    n = int(rng.integers(min_vertices, max_vertices + 1))
    angles = np.sort(rng.uniform(0, 2 * math.pi, size=n))
    radii = radius * rng.uniform(1.0 - irregularity, 1.0, size=n)
    return _draw_polygon(_radial_xy(radii, angles), height, width, rng)


@register_shape("scratch")
def scratch(
    size: tuple[int, int],
    rng: np.random.Generator,
    min_frac: float = 0.15,
    max_frac: float = 0.6,
    min_width: int = 1,
    max_width: int = 3,
    segments: int = 4,
    max_turn: float = 0.6,
) -> np.ndarray:
    """A thin scratch: a random polyline of ``segments`` pieces, ``min_width``..``max_width`` px wide.

    Its total length is in [min_frac, max_frac] of the short side; it heads in a uniform direction and
    turns by at most ``max_turn`` radians at each joint. Widths are in pixels (not fractions) because a
    scratch is thin whatever the resolution.
    """
    height, width = _check_size(size)
    _check_rng(rng)
    if not 1 <= min_width <= max_width:
        raise ValueError(f"need 1 <= min_width <= max_width, got {min_width}, {max_width}")
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    length = _extent(height, width, rng, min_frac, max_frac)
    line_width = int(rng.integers(min_width, max_width + 1))
    turns = np.cumsum(rng.uniform(-max_turn, max_turn, size=segments))
    headings = float(rng.uniform(0, 2 * math.pi)) + turns
    steps = length / segments * np.stack([np.cos(headings), np.sin(headings)], axis=1)
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    xy = _position(path, line_width / 2, height, width, rng)
    image, draw = _canvas(height, width)
    joint = "curve" if line_width > 2 else None
    draw.line([(float(x), float(y)) for x, y in xy], fill=255, width=line_width, joint=joint)
    return _finish(image, (float(xy[0, 0]), float(xy[0, 1])))


@register_shape("blob")
def blob(
    size: tuple[int, int],
    rng: np.random.Generator,
    min_frac: float = 0.1,
    max_frac: float = 0.35,
    circles: int = 10,
    smoothness: float = 0.15,
) -> np.ndarray:
    """A smooth irregular blob: a connected union of ``circles`` random discs, blurred and thresholded.

    Each disc (radius 0.25-0.5 of the blob radius) is centred near an earlier one, so the union is one piece
    and lobed rather than round; disc centres stay within half the blob radius, so the overall diameter
    is at most [min_frac, max_frac] of the short side. A Gaussian blur of sigma ``smoothness`` times the
    blob radius, thresholded at half, rounds the notches where discs meet.
    """
    height, width = _check_size(size)
    _check_rng(rng)
    if circles < 1:
        raise ValueError(f"circles must be >= 1, got {circles}")
    if smoothness < 0:
        raise ValueError(f"smoothness must be >= 0, got {smoothness}")
    radius = _extent(height, width, rng, min_frac, max_frac) / 2
    centres = [np.zeros(2)]
    radii = [float(rng.uniform(0.25, 0.5)) * radius]
    for _ in range(circles - 1):
        parent = int(rng.integers(0, len(centres)))
        angle = float(rng.uniform(0, 2 * math.pi))
        # a step shorter than the parent's radius makes the discs overlap, so the union is connected; a step
        # leaving the half-radius core is halved until it does not (it still overlaps)
        step = float(rng.uniform(0.5, 0.9)) * radii[parent] * np.array([math.cos(angle), math.sin(angle)])
        while np.hypot(*(centres[parent] + step)) > 0.5 * radius and np.hypot(*step) > 1e-6:
            step = step / 2
        centres.append(centres[parent] + step)
        radii.append(float(rng.uniform(0.25, 0.5)) * radius)
    xy = _position(np.array(centres), max(radii), height, width, rng)
    image, draw = _canvas(height, width)
    for (x, y), r in zip(xy, radii, strict=True):
        draw.ellipse([float(x - r), float(y - r), float(x + r), float(y + r)], fill=255)
    if smoothness > 0 and radius * smoothness >= 0.5:
        image = image.filter(ImageFilter.GaussianBlur(radius=radius * smoothness))
    return _finish(image, (float(xy[0, 0]), float(xy[0, 1])))
