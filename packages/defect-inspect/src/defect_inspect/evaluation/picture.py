"""``predictions.png``: sample predictions a person can look at, with the true masks overlaid.

Segmenter rows: image | true mask (red) | predicted P(defect) as a heat overlay | predicted mask (red).
Classifier and detector rows: image with its true mask, captioned with the true and the predicted class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from defect_core.atomic import save_image_atomic
from defect_core.preview import image_grid, overlay_mask

CELL = 128


@dataclass(frozen=True)
class PictureRow:
    """One test image: the image, its true mask bool (H, W), a caption, and for segmenters P(defect)
    float (H, W) in [0, 1] with the decision threshold."""

    image: Image.Image
    mask: np.ndarray
    caption: str
    anomaly_map: np.ndarray | None = None
    threshold: float = 0.5


def heat_overlay(image: Image.Image, probability: np.ndarray) -> Image.Image:
    """``image`` blended towards red (high) through yellow by ``probability`` float (H, W) in [0, 1]."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    p = np.clip(np.asarray(probability, dtype=np.float32), 0.0, 1.0)[..., None]
    heat = np.concatenate([np.full_like(p, 255.0), 255.0 * (1.0 - p), np.zeros_like(p)], axis=2)
    out = rgb * (1.0 - 0.6 * p) + heat * 0.6 * p
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _captioned(image: Image.Image, caption: str) -> Image.Image:
    tile = image.convert("RGB").resize((CELL, CELL))
    if caption:
        draw = ImageDraw.Draw(tile)
        draw.rectangle([0, CELL - 14, CELL, CELL], fill=(0, 0, 0))
        draw.text((2, CELL - 13), caption[:24], fill=(255, 255, 255))
    return tile


def prediction_picture(rows: Sequence[PictureRow], path: str | Path) -> Path:
    """Write the rows as one PNG at ``path`` (atomically) and return the path."""
    if not rows:
        raise ValueError("no rows to draw")
    tiles: list[list[Image.Image]] = []
    segmenter = rows[0].anomaly_map is not None
    for row in rows:
        truth = overlay_mask(row.image, row.mask)
        if segmenter and row.anomaly_map is not None:
            predicted = overlay_mask(row.image, row.anomaly_map >= row.threshold)
            tiles.append(
                [
                    _captioned(row.image, row.caption),
                    _captioned(truth, "true mask"),
                    _captioned(heat_overlay(row.image, row.anomaly_map), "P(defect)"),
                    _captioned(predicted, f"p >= {row.threshold:g}"),
                ]
            )
        else:
            tiles.append([_captioned(truth, row.caption)])
    if not segmenter:
        # one row per image would be a tall strip: wrap into rows of four
        flat = [t[0] for t in tiles]
        tiles = [flat[i : i + 4] for i in range(0, len(flat), 4)]
    header = ("image", "truth", "prediction", "predicted mask") if segmenter else ()
    return save_image_atomic(image_grid(tiles, cell=CELL, header=header), path)


def spread_indices(labels: Sequence[str], count: int) -> list[int]:
    """Up to ``count`` indices taking the labels in turn (every class shows), in label then input order."""
    groups: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    chosen: list[int] = []
    queues = [list(v) for _, v in sorted(groups.items())]
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen
