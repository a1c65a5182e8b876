"""Reading images and masks from disk with errors that name the file.

Conventions used across defectfill:
- an image is a ``PIL.Image`` in RGB, or a ``uint8`` array of shape (H, W, 3);
- a mask is a ``bool`` array of shape (H, W), True where the defect is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from defect_core.errors import InputFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image file; raise :class:`InputFileError` naming it if that fails."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputFileError(path, f"cannot be read as an image ({exc.__class__.__name__}: {exc})") from exc


def load_rgb(path: str | Path) -> Image.Image:
    """Load an image as RGB (grayscale images are repeated over three channels)."""
    return open_image(path).convert("RGB")


def load_mask(path: str | Path, threshold: int = 128) -> np.ndarray:
    """Load a mask file as a bool array (H, W): True where the gray value is >= ``threshold``.

    Colour masks are converted to luminance first; an alpha channel is ignored. ``threshold`` is in
    0..255 (the default 128 treats the usual 0 / 255 masks and anti-aliased edges the same way).
    """
    if not 0 <= threshold <= 255:
        raise ValueError(f"threshold must be in 0..255, got {threshold}")
    im = open_image(path)
    if im.mode in ("I", "I;16", "I;16B", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = arr.max() if arr.size else 0.0
        # 16-bit and float masks: scale so that their own maximum maps to 255
        arr = arr / peak * 255.0 if peak > 255 else arr
        return arr >= threshold
    return np.asarray(im.convert("L")) >= threshold


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """A bool or 0/1 mask (H, W) as an 8-bit image with values 0 and 255."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    return Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8), mode="L")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "folder does not exist")
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
