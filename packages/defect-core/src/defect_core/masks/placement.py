"""Placing generated defect masks on the object, not on the background.

A synthetic defect on the black velvet behind a hazelnut teaches nothing, so a generated shape is moved to a
random position where every one of its pixels lies on the object (the foreground). The foreground comes from
a cheap estimate against the background colour, good enough for MVTec-style photographs (one object on a
plain background); texture categories, where the surface fills the frame, get an all-True foreground.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from defect_core.masks import dilate, erode, mask_area_fraction, mask_bbox
from defect_core.masks.shapes import create_mask

logger = logging.getLogger(__name__)


def _as_rgb_array(image: np.ndarray | Image.Image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"image array must be uint8 (0..255), got dtype {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) or (H, W), got shape {arr.shape}")
    return arr


def _border_ring(arr: np.ndarray, border: int) -> np.ndarray:
    ring = np.zeros(arr.shape[:2], dtype=bool)
    ring[:border, :] = ring[-border:, :] = True
    ring[:, :border] = ring[:, -border:] = True
    return ring


def estimate_foreground(
    image: np.ndarray | Image.Image,
    tolerance: int = 30,
    border: int = 4,
    max_border_foreground: float = 0.1,
    min_fraction: float = 0.05,
) -> np.ndarray:
    """Estimate where the object is in a photograph: bool (H, W), True on the object.

    ``image`` is a PIL image or a uint8 array (H, W, 3) (or (H, W) grey). The background colour is the
    per-channel median of the outer ``border`` pixels of every side. A pixel is foreground when some channel
    differs from it by more than ``tolerance`` (0..255). The raw estimate is closed (radius 2, bridging thin
    gaps inside the object) and opened (radius 1, removing isolated noisy pixels).

    All-True is returned, meaning "the object fills the frame", in two cases:
    - more than ``max_border_foreground`` of the border pixels are foreground: the border is not a plain
      background, as for textures (carpet, grid, wood) whose pattern reaches the image edge;
    - the estimate covers less than ``min_fraction`` of the image: nothing stands out from the border
      colour, as for a uniform texture.
    Object pixels that happen to match the background colour stay False, which only makes placement more
    conservative.
    """
    if not 0 <= tolerance <= 255:
        raise ValueError(f"tolerance must be in 0..255, got {tolerance}")
    if border < 1:
        raise ValueError(f"border must be >= 1, got {border}")
    arr = _as_rgb_array(image)
    height, width = arr.shape[:2]
    border = min(border, max(1, min(height, width) // 2))
    ring = _border_ring(arr, border)
    background = np.median(arr[ring], axis=0)
    distance = np.abs(arr.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    raw = distance > tolerance
    whole = np.ones((height, width), dtype=bool)
    border_share = float(raw[ring].mean())
    if border_share > max_border_foreground:
        logger.debug("border is %.0f%% foreground: treating the image as a texture", 100 * border_share)
        return whole
    foreground = dilate(erode(erode(dilate(raw, 2), 2), 1), 1)
    if mask_area_fraction(foreground) < min_fraction:
        logger.debug("foreground covers under %.0f%%: treating the image as a texture", 100 * min_fraction)
        return whole
    return foreground


def place_mask(
    shape_mask: np.ndarray,
    foreground: np.ndarray,
    rng: np.random.Generator,
    max_tries: int = 100,
) -> np.ndarray:
    """Move a shape to a random position where all of its pixels lie on the foreground.

    ``shape_mask`` is a non-empty bool mask of any size; only its bounding-box crop is used. ``foreground``
    is bool (H, W). Positions are drawn uniformly among those that keep the crop inside the foreground's
    bounding box, at most ``max_tries`` times; the first where every shape pixel is foreground wins.
    Returns bool (H, W). Raises ValueError when no try fits.
    """
    if max_tries < 1:
        raise ValueError(f"max_tries must be >= 1, got {max_tries}")
    foreground = np.asarray(foreground)
    if foreground.ndim != 2 or foreground.dtype != np.bool_:
        raise ValueError(f"foreground must be a bool (H, W) array, got {foreground.dtype} {foreground.shape}")
    if not foreground.any():
        raise ValueError("foreground is empty: there is nowhere to place a defect")
    sy0, sx0, sy1, sx1 = mask_bbox(shape_mask)
    crop = np.asarray(shape_mask)[sy0:sy1, sx0:sx1]
    h, w = crop.shape
    fy0, fx0, fy1, fx1 = mask_bbox(foreground)
    if h > fy1 - fy0 or w > fx1 - fx0:
        raise ValueError(
            f"shape of {w}x{h} px (width x height) is larger than the foreground's extent of "
            f"{fx1 - fx0}x{fy1 - fy0} px"
        )
    for _ in range(max_tries):
        y = int(rng.integers(fy0, fy1 - h + 1))
        x = int(rng.integers(fx0, fx1 - w + 1))
        if not np.any(crop & ~foreground[y : y + h, x : x + w]):
            placed = np.zeros(foreground.shape, dtype=bool)
            placed[y : y + h, x : x + w] = crop
            return placed
    raise ValueError(
        f"could not place a {w}x{h} px shape entirely inside the foreground "
        f"({100 * mask_area_fraction(foreground):.1f}% of the image) after {max_tries} tries; "
        f"use a smaller shape or a larger foreground"
    )


def generate_placed_mask(
    name: str,
    size: tuple[int, int],
    foreground: np.ndarray,
    rng: np.random.Generator,
    max_tries: int = 100,
    shape_tries: int = 10,
    **params: object,
) -> np.ndarray:
    """Generate a shape ``name`` (see :mod:`defect_core.masks.shapes`) and place it on the foreground.

    ``size`` is (height, width) and must equal ``foreground.shape``. A shape that does not fit after
    ``max_tries`` positions is replaced by a freshly drawn one, up to ``shape_tries`` shapes, so that an
    unluckily large shape does not fail a small object. Returns bool (height, width), never empty;
    raises ValueError when nothing fits.
    """
    foreground = np.asarray(foreground)
    if tuple(int(v) for v in size) != foreground.shape:
        raise ValueError(
            f"size {tuple(size)} (height, width) differs from the foreground's {foreground.shape}"
        )
    if shape_tries < 1:
        raise ValueError(f"shape_tries must be >= 1, got {shape_tries}")
    last_error: ValueError | None = None
    for _ in range(shape_tries):
        shape = create_mask(name, size, rng, **params)
        try:
            return place_mask(shape, foreground, rng, max_tries=max_tries)
        except ValueError as exc:
            last_error = exc
    raise ValueError(f"no {name!r} shape fitted the foreground in {shape_tries} shapes: {last_error}")
