"""Resizing a class-index label image to the model's input size without losing a defect.

The binary segmenter's target is :func:`defect_core.masks.resize_mask_covering` of the mask: a defect pixel
marks every target cell it touches, so a 1-pixel scratch survives the downscaling. The label image follows
the same rule, so that its defect cells are exactly the binary target's (``resized > 0`` equals the covering
resize of ``labels > 0``); a defect cell that several classes touch takes the class with the largest share of
the cell's area (Pillow's box filter, the exact area average), ties going to the lower id.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from defect_core.masks import resize_mask_covering


def resize_labels_covering(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize class ids uint8 (H, W) (0 = background) to ``size`` = (width, height), PIL's order; returns
    uint8 (height, width) under the rule of the module docstring."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (H, W), got shape {labels.shape}")
    width, height = (int(v) for v in size)
    out = np.zeros((height, width), dtype=np.uint8)
    best = np.full((height, width), -1.0, dtype=np.float32)
    for k in np.unique(labels):
        if k == 0:
            continue
        member = labels == k
        covered = resize_mask_covering(member, (width, height))
        share = np.asarray(
            Image.fromarray(member.astype(np.float32), mode="F").resize(
                (width, height), resample=Image.Resampling.BOX
            )
        )
        # strictly larger: with ids in ascending order, a tie keeps the lower id
        take = covered & (share > best)
        out[take] = k
        best[take] = share[take]
    return out
