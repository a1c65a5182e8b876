"""Images handed to the metrics: file paths, PIL images or uint8 arrays, all read the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.images import load_rgb

ImageInput = str | Path | Image.Image | np.ndarray


def to_rgb(item: ImageInput) -> Image.Image:
    """An RGB PIL image from a path (read with :func:`defect_core.images.load_rgb`), a PIL image or a uint8
    array (H, W) or (H, W, 3)."""
    if isinstance(item, str | Path):
        return load_rgb(item)
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    array = np.asarray(item)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"an image array must be uint8 (H, W) or (H, W, 3), got {array.dtype} {array.shape}")
    return Image.fromarray(array).convert("RGB")


def describe(item: ImageInput, index: int) -> str:
    """How to name an input in a message: its path, else its position."""
    return str(item) if isinstance(item, str | Path) else f"image {index}"
