"""``preview.png`` of a Defect-Gen run: one row per item, the image | the image under its colour labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from defect_core.class_labels import labels_to_color
from defect_core.preview import image_grid


def label_overlay(image: Image.Image, labels: np.ndarray, alpha: float = 0.55) -> Image.Image:
    """``image`` with every defect pixel (``labels`` uint8 (H, W) > 0) tinted in its class's palette colour."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    labels = np.asarray(labels)
    if labels.shape != rgb.shape[:2]:
        raise ValueError(f"labels shape {labels.shape} does not match image size {rgb.shape[:2]}")
    defect = labels > 0
    colour = labels_to_color(labels).astype(np.float32)
    rgb[defect] = (1 - alpha) * rgb[defect] + alpha * colour[defect]
    return Image.fromarray(rgb.round().clip(0, 255).astype(np.uint8))


def defectgen_preview(rows: Sequence[tuple[Image.Image, np.ndarray]], cell: int = 128) -> Image.Image:
    """Rows of (generated image, its labels) as image | colour label overlay."""
    tiles = [(image, label_overlay(image, labels)) for image, labels in rows]
    return image_grid(tiles, cell=cell, header=("generated", "labels"))
