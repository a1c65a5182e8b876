"""The size an image is generated at, and resizing an (image, mask) pair to it.

The long side becomes ``resolution`` and the short side keeps the aspect ratio, both rounded to the VAE
factor (8), so wide images (KolektorSDD2) are not squashed into a square.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from defect_core.masks import resize_mask_covering

VAE_FACTOR = 8


def working_size(size: tuple[int, int], resolution: int, factor: int = VAE_FACTOR) -> tuple[int, int]:
    """``(width, height)`` with the long side = ``resolution`` and sides multiples of ``factor``."""
    width, height = size
    if resolution < factor or resolution % factor:
        raise ValueError(f"resolution must be a positive multiple of {factor}, got {resolution}")
    scale = resolution / max(width, height)

    def side(n: int) -> int:
        return max(factor, int(round(n * scale / factor)) * factor)

    return side(width), side(height)


def resize_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The RGB image at ``size`` = (width, height), bicubic (unchanged when it already has that size)."""
    image = image.convert("RGB")
    return image if image.size == tuple(size) else image.resize(tuple(size), Image.Resampling.BICUBIC)


def resize_pair(
    image: Image.Image, mask: np.ndarray, size: tuple[int, int]
) -> tuple[Image.Image, np.ndarray]:
    """The RGB image (bicubic) and its mask at ``size`` = (width, height); the mask by
    :func:`defect_core.masks.resize_mask_covering` (a defect pixel marks every pixel it touches).

    The mask may come at another size than the image (a real mask of another defect image): it is resized
    to ``size`` directly.
    """
    return resize_image(image, size), resize_mask_covering(mask, size)
