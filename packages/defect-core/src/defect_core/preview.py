"""A picture a person can look at: rows of normal | mask overlay | generated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

OVERLAY_COLOR = (255, 40, 40)


def overlay_mask(image: Image.Image, mask: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """``image`` with the defect region (``mask``: bool (H, W), same size) tinted red and outlined."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image size {rgb.shape[:2]}")
    tint = np.array(OVERLAY_COLOR, dtype=np.float32)
    rgb[mask] = (1 - alpha) * rgb[mask] + alpha * tint
    return Image.fromarray(rgb.round().clip(0, 255).astype(np.uint8))


def fit_into_square(image: Image.Image, cell: int) -> Image.Image:
    """``image`` resized so that its long side is ``cell`` and its aspect ratio is kept (short side >= 1)."""
    scale = cell / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if image.size == size else image.resize(size)


def image_grid(
    rows: Sequence[Sequence[Image.Image]], cell: int = 128, header: Sequence[str] = ()
) -> Image.Image:
    """Tile images row by row into one picture, each fitted into a ``cell`` × ``cell`` square (long side =
    ``cell``, aspect kept, centred on white: a non-square defect keeps its shape), with an optional header."""
    if not rows:
        raise ValueError("image_grid needs at least one row")
    ncols = max(len(r) for r in rows)
    pad, head_h = 2, (16 if header else 0)
    grid = Image.new("RGB", (ncols * (cell + pad) + pad, head_h + len(rows) * (cell + pad) + pad), "white")
    draw = ImageDraw.Draw(grid)
    for c, text in enumerate(header):
        draw.text((pad + c * (cell + pad) + 2, 2), text, fill=(0, 0, 0))
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            tile = fit_into_square(im.convert("RGB"), cell)
            x0 = pad + c * (cell + pad) + (cell - tile.width) // 2
            y0 = head_h + pad + r * (cell + pad) + (cell - tile.height) // 2
            grid.paste(tile, (x0, y0))
    return grid


def preview_grid(rows: Sequence[tuple[Image.Image, np.ndarray, Image.Image]], cell: int = 128) -> Image.Image:
    """Rows of (normal image, mask bool (H, W), generated image) as normal | mask overlay | generated."""
    tiles = [(normal, overlay_mask(normal, mask), generated) for normal, mask, generated in rows]
    return image_grid(tiles, cell=cell, header=("normal", "mask", "generated"))
