"""Pictures the page shows: a candidate with its region outlined, a zoom on the region, the clicked corners.

Small generated images (64 px on the built-in models) are enlarged with nearest-neighbour sampling, so the
expert judges the generated pixels themselves, not an interpolation of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from defect_core.masks import dilate, mask_bbox
from defect_core.preview import overlay_mask

OUTLINE_RGB = (255, 220, 0)
DISPLAY_SIDE = 256
"""Long side, in pixels, that candidates are enlarged to (at least; larger images keep their size)."""


def display_scale(size: tuple[int, int], side: int = DISPLAY_SIDE) -> int:
    """The integer factor that brings the long side of ``size`` (width, height) to about ``side``."""
    return max(1, side // max(size))


def enlarge(image: Image.Image, scale: int) -> Image.Image:
    """``image`` scaled by an integer factor, nearest-neighbour."""
    if scale == 1:
        return image.convert("RGB")
    return image.convert("RGB").resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def outline(mask: np.ndarray) -> np.ndarray:
    """The one-pixel ring just outside a bool (H, W) mask: drawn there, it hides no generated pixel."""
    mask = np.asarray(mask, dtype=bool)
    return dilate(mask, 1) & ~mask


def outlined(image: Image.Image, mask: np.ndarray, side: int = DISPLAY_SIDE) -> Image.Image:
    """``image`` enlarged to about ``side`` px with the region's outline in yellow around it."""
    scale = display_scale(image.size, side)
    big = np.asarray(enlarge(image, scale)).copy()
    ring = np.kron(outline(mask).astype(np.uint8), np.ones((scale, scale), dtype=np.uint8)).astype(bool)
    big[ring] = OUTLINE_RGB
    return Image.fromarray(big)


def zoomed(
    image: Image.Image, mask: np.ndarray, side: int = DISPLAY_SIDE, margin: float = 0.5
) -> Image.Image:
    """The region's bounding box, grown by ``margin`` of its size on every side (kept inside the image),
    enlarged to about ``side`` px."""
    y0, x0, y1, x1 = mask_bbox(np.asarray(mask, dtype=bool))
    grow_y, grow_x = max(2, int((y1 - y0) * margin)), max(2, int((x1 - x0) * margin))
    y0, x0 = max(0, y0 - grow_y), max(0, x0 - grow_x)
    y1, x1 = min(image.height, y1 + grow_y), min(image.width, x1 + grow_x)
    crop = image.crop((x0, y0, x1, y1))
    return enlarge(crop, display_scale(crop.size, side))


def decided_tile(size: tuple[int, int], status: str, side: int = DISPLAY_SIDE) -> Image.Image:
    """A gray tile for a candidate decided before a restart (its pixels are no longer kept)."""
    scale = display_scale(size, side)
    tile = Image.new("RGB", (size[0] * scale, size[1] * scale), (90, 90, 90))
    ImageDraw.Draw(tile).text((8, 8), status, fill=(255, 255, 255))
    return tile


def corners_picture(
    image: Image.Image,
    mask: np.ndarray | None,
    points: Sequence[tuple[float, float]],
    side: int = DISPLAY_SIDE,
) -> Image.Image:
    """The normal image enlarged, the current region tinted, and the clicked corners (image pixels) marked."""
    shown = overlay_mask(image, mask) if mask is not None and np.any(mask) else image.convert("RGB")
    scale = display_scale(image.size, side)
    big = enlarge(shown, scale)
    draw = ImageDraw.Draw(big)
    centres = [((x + 0.5) * scale, (y + 0.5) * scale) for x, y in points]
    if len(centres) > 1:
        draw.line(centres, fill=OUTLINE_RGB, width=1)
    for cx, cy in centres:
        draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), outline=OUTLINE_RGB, width=2)
    return big
