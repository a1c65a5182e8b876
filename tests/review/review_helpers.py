"""Helpers of the review-app tests: reading back what a folder holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pixels(path_or_image) -> np.ndarray:
    """RGB pixels of a file or a PIL image, uint8 (H, W, 3)."""
    if isinstance(path_or_image, Image.Image):
        return np.asarray(path_or_image.convert("RGB"))
    with Image.open(path_or_image) as im:
        return np.asarray(im.convert("RGB"))


def files_holding(folder: Path, image: Image.Image) -> list[Path]:
    """Every image file under ``folder`` whose RGB pixels equal ``image``'s."""
    target = pixels(image)
    found = []
    for path in sorted(folder.rglob("*.png")):
        with Image.open(path) as im:
            if im.size == image.size and np.array_equal(np.asarray(im.convert("RGB")), target):
                found.append(path)
    return found


def snapshot(folder: Path) -> dict[str, bytes]:
    """Relative path → bytes of every file under ``folder`` (to show that nothing changed)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def masked_psnr_by_hand(candidate: Image.Image, normal: Image.Image, mask: np.ndarray) -> float:
    """PSNR over the masked pixels of all three channels, images in [0, 1]."""
    a = pixels(candidate).astype(np.float64) / 255.0
    b = pixels(normal).astype(np.float64) / 255.0
    mse = float(((a - b) ** 2)[np.asarray(mask, dtype=bool)].mean())
    return 10.0 * np.log10(1.0 / mse)
