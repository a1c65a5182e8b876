"""Operations on defect masks: bool arrays of shape (H, W), True where the defect is.

Everything here is pure numpy (plus PIL for resizing) so that the core package stays free of torch and scipy.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


def _as_2d_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (H, W), got shape {arr.shape}")
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a bool array, got dtype {arr.dtype} (use binarize() first)")
    return arr


def binarize(array: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Turn a soft or 8-bit mask into a bool mask of the same shape.

    - ``bool`` arrays are returned as a copy;
    - ``uint8`` arrays (values 0..255) are True where ``value >= threshold * 255``, so the default 0.5 keeps
      128..255, the same cut as :func:`defect_core.images.load_mask`'s default;
    - every other numeric dtype (float in [0, 1], or 0/1 integers) is True where ``value >= threshold``.
      NaN is False.

    ``threshold`` must lie in [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    arr = np.asarray(array)
    if arr.dtype == np.bool_:
        return arr.copy()
    if arr.dtype == np.uint8:
        return arr >= threshold * 255.0
    if not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"cannot binarize an array of dtype {arr.dtype}")
    with np.errstate(invalid="ignore"):
        return arr >= threshold


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask (H, W) to ``size`` = (width, height), PIL's order, by nearest neighbour.

    Nearest neighbour never creates grey values, so the result is exactly binary; shrinking may drop thin
    defects, so a mask that labels a defect is resized with :func:`resize_mask_covering`. This one keeps a
    mask aligned with its image resized the same way (a cut-paste patch).
    Returns bool (height, width).
    """
    mask = _as_2d_mask(mask)
    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be (width, height) with positive values, got {size}")
    image = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")
    return np.asarray(image.resize((width, height), resample=Image.Resampling.NEAREST)) >= 128


def _source_ranges(n_pixels: int, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    # the source pixels [start, end) of each output cell along one axis. Shrinking (or keeping): cell i spans
    # [i n / m, (i + 1) n / m) and takes every pixel it overlaps by a positive length, floor(i n / m) ..
    # ceil((i + 1) n / m) - 1, in integer arithmetic (the bounds torch's adaptive_max_pool2d uses).
    # Growing: the pixel PIL's nearest neighbour picks, read off an index ramp, so that a grown mask is
    # exactly resize_mask's
    if n_cells <= n_pixels:
        i = np.arange(n_cells, dtype=np.int64)
        return (i * n_pixels) // n_cells, -((-(i + 1) * n_pixels) // n_cells)
    ramp = Image.fromarray(np.arange(n_pixels, dtype=np.int32)[None, :])
    start = np.asarray(ramp.resize((n_cells, 1), resample=Image.Resampling.NEAREST), dtype=np.int64)[0]
    return start, start + 1


def resize_mask_covering(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask (H, W) to ``size`` = (width, height), PIL's order, so that no defect is lost: along
    an axis that shrinks, a defect pixel marks every cell it touches. Returns bool (height, width).

    The output grid is laid over the image: along an axis of n pixels resized to m cells, cell i covers
    ``[i n / m, (i + 1) n / m)`` in pixel units, where pixel p is ``[p, p + 1)``.

    - Shrinking (m <= n): cell i is True when it overlaps a True pixel by a positive length, i.e. it takes
      the pixels ``floor(i n / m) .. ceil((i + 1) n / m) - 1``. By an integer factor f that is the max-pool
      over f-pixel blocks; by a non-integer one (64 px onto 23 cells of 2.78 px) a pixel on a cell edge
      marks both cells: a one-pixel scratch survives, and a defect grows by at most one cell per side.
    - Growing (m > n): cell i takes the pixel under its centre, ``floor((i + 1/2) n / m)``: nearest
      neighbour, exactly :func:`resize_mask`'s (PIL's; a centre that falls on a pixel edge goes to the side
      PIL's floating point puts it). Every pixel already owns at least one cell, so nothing is lost, and a
      defect keeps its size instead of growing by a straddling cell on each side.

    The two axes are independent (a strip shrunk in height and grown in width keeps a one-pixel scratch).
    A cell (i, j) is True when any pixel of its row range x column range is. The latent mask the UNet is
    conditioned on is the shrinking case; :func:`defect_sample.conditioning.latent_mask` is its torch form.
    """
    mask = _as_2d_mask(mask)
    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be (width, height) with positive values, got {size}")
    h, w = mask.shape
    # summed-area table: any() over a rectangle is a count > 0, for all cells at once
    table = np.zeros((h + 1, w + 1), dtype=np.int64)
    table[1:, 1:] = mask.astype(np.int64).cumsum(axis=0).cumsum(axis=1)
    y0, y1 = _source_ranges(h, height)
    x0, x1 = _source_ranges(w, width)
    counts = (
        table[y1[:, None], x1[None, :]]
        - table[y0[:, None], x1[None, :]]
        - table[y1[:, None], x0[None, :]]
        + table[y0[:, None], x0[None, :]]
    )
    return counts > 0


def _sliding_any(mask: np.ndarray, radius: int, axis: int) -> np.ndarray:
    # a window of 2r+1 clipped to the array holds a True iff its count of Trues is > 0; padding with zeros
    # is the clipping, and the cumulative sum gives every window's count in O(1)
    n = mask.shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius + 1, radius)
    csum = np.pad(mask.astype(np.int32), pad).cumsum(axis=axis)
    upper = np.take(csum, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lower = np.take(csum, np.arange(0, n), axis=axis)
    return (upper - lower) > 0


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a bool mask (H, W) by a square of side ``2 * radius + 1``.

    A pixel becomes True when any pixel within Chebyshev distance ``radius`` is True. The square is used
    (not a disk) because it is separable, hence fast in pure numpy, and matches the max-pool semantics of
    :func:`resize_mask_covering`. The window is clipped at the image border. ``radius`` 0 returns a copy.
    """
    mask = _as_2d_mask(mask)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return mask.copy()
    return _sliding_any(_sliding_any(mask, radius, axis=0), radius, axis=1)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion of a bool mask (H, W) by a square of side ``2 * radius + 1``.

    A pixel stays True only when every pixel of the square around it that lies inside the image is True
    (the window is clipped at the border, so a mask touching the border is not eaten from outside).
    It is the dual of :func:`dilate`: ``erode(m, r) == ~dilate(~m, r)``. ``radius`` 0 returns a copy.
    """
    mask = _as_2d_mask(mask)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return mask.copy()
    return ~dilate(~mask, radius)


def mask_area_fraction(mask: np.ndarray) -> float:
    """Fraction of True pixels of a bool mask (H, W), in [0, 1]."""
    mask = _as_2d_mask(mask)
    if mask.size == 0:
        raise ValueError(f"mask has no pixels (shape {mask.shape})")
    return float(np.count_nonzero(mask)) / mask.size


def mask_bbox(mask: np.ndarray) -> Box:
    """Bounding box ``(y0, x0, y1, x1)`` of the True pixels of a bool mask (H, W), end exclusive.

    ``mask[y0:y1, x0:x1]`` holds every True pixel. Raises ValueError for an empty mask.
    """
    mask = _as_2d_mask(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        raise ValueError(f"mask of shape {mask.shape} is empty: it has no bounding box")
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def validate_mask(
    mask: np.ndarray, image_size: tuple[int, int], path: str | Path | None = None
) -> np.ndarray:
    """Check that a defect mask fits its image and marks a real defect; return it unchanged.

    ``mask`` is bool (H, W) (as :func:`defect_core.images.load_mask` returns); ``image_size`` is the image's
    ``(width, height)``, PIL's ``image.size``. Raises :class:`InputFileError` naming ``path`` (or ``<mask>``
    when no path is given) when the mask is not 2-D, its size differs from the image's, it is empty, or
    it covers the whole image (a mask of all ones leaves no background to condition on).
    """
    where = Path(path) if path is not None else Path("<mask>")
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InputFileError(where, f"mask must be a single-channel (H, W) array, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        raise TypeError(f"mask must be a bool array, got dtype {arr.dtype} (use binarize() first)")
    width, height = (int(v) for v in image_size)
    if arr.shape != (height, width):
        raise InputFileError(
            where,
            f"mask is {arr.shape[1]}x{arr.shape[0]} (width x height) but its image is {width}x{height}",
        )
    if not arr.any():
        raise InputFileError(where, "mask is empty (no defect pixel; defect pixels must be white)")
    if arr.all():
        raise InputFileError(where, "mask covers the whole image (every pixel is marked as defect)")
    return arr
