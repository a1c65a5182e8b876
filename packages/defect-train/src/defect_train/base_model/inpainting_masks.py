"""Random masks of the inpainting recipe: boxes, free-form strokes, and sometimes the whole image.

Stable Diffusion's inpainting model was trained on LaMa-style synthetic masks (thick free-form strokes
and boxes) and, in 25 % of the samples, a mask over everything, so that the model also generates without
any context. The shapes reuse :mod:`defect_core.masks.shapes`.
"""

from __future__ import annotations

import numpy as np
import torch

from defect_core.masks.shapes import boxes_to_mask, random_box_list, scratch


def inpainting_mask(
    size: tuple[int, int],
    rng: np.random.Generator,
    full_prob: float = 0.25,
    stroke_prob: float = 0.4,
    max_pieces: int = 3,
) -> np.ndarray:
    """One training mask, bool (height, width), True = region to fill, never empty.

    With probability ``full_prob`` the whole image; else with ``stroke_prob`` 1..``max_pieces`` thick
    free-form strokes (width 4-15 % of the short side); else 1..``max_pieces`` boxes (sides 10-50 %).
    """
    if not (0.0 <= full_prob <= 1.0 and 0.0 <= stroke_prob <= 1.0 and full_prob + stroke_prob <= 1.0):
        raise ValueError(
            f"need probabilities full_prob={full_prob}, stroke_prob={stroke_prob} in [0, 1] with a sum <= 1"
        )
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be >= 1, got {max_pieces}")
    height, width = size
    draw = rng.random()
    if draw < full_prob:
        return np.ones((height, width), dtype=bool)
    pieces = int(rng.integers(1, max_pieces + 1))
    if draw < full_prob + stroke_prob:
        short = min(height, width)
        lo, hi = max(1, round(0.04 * short)), max(1, round(0.15 * short))
        mask = np.zeros((height, width), dtype=bool)
        for _ in range(pieces):
            mask |= scratch(
                size, rng, min_frac=0.3, max_frac=0.9, min_width=lo, max_width=hi, segments=5, max_turn=1.0
            )
        return mask
    return boxes_to_mask(random_box_list(size, rng, count=pieces, min_frac=0.1, max_frac=0.5), size)


def inpainting_mask_batch(
    count: int, size: int, rng: np.random.Generator, full_prob: float = 0.25, stroke_prob: float = 0.4
) -> torch.Tensor:
    """``count`` masks of :func:`inpainting_mask` as float (count, 1, size, size) of 0 / 1."""
    masks = [inpainting_mask((size, size), rng, full_prob, stroke_prob) for _ in range(count)]
    return torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
