"""Random coloured marks painted over VAE training crops, so the autoencoder can draw what photos lack.

Three tinted photographs contain no near-black or saturated pixels, and an autoencoder trained on them
alone maps a dark spot to latents far outside its range: the decoder's group norms and attention then
shift the colours of the whole image. A base model whose VAE cannot represent a dark hole or a bright line
cannot learn one with LoRA either (the UNet's target is that VAE's latents). So a share of the VAE's crops
get marks of uniformly random colour: filled ellipses and rectangles, and strokes of random width. They are
generic (random-erasing style), not the benchmark's defect painter (``defect_core.builtin.demo.paint_defect``), and
only the VAE sees them: the UNet stage trains on the clean photographs, so the base model's prior knows
surfaces and nothing of defects.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

MARK_KINDS = ("ellipse", "rectangle", "stroke")


def _mark_alpha(size: int, rng: np.random.Generator) -> np.ndarray:
    """One mark's coverage, float (size, size) in [0, 1]."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    kind = MARK_KINDS[int(rng.integers(0, len(MARK_KINDS)))]
    if kind == "stroke":
        points = [tuple(float(v) for v in rng.uniform(0, size, 2)) for _ in range(int(rng.integers(2, 5)))]
        draw.line(points, fill=255, width=int(rng.integers(1, max(2, size // 10))))
    else:
        w, h = rng.uniform(size * 0.05, size * 0.4, 2)
        x0, y0 = rng.uniform(-w / 2, size - w / 2), rng.uniform(-h / 2, size - h / 2)
        box = (float(x0), float(y0), float(x0 + w), float(y0 + h))
        (draw.ellipse if kind == "ellipse" else draw.rectangle)(box, fill=255)
    return np.asarray(canvas, dtype=np.float32) / 255.0 * rng.uniform(0.5, 1.0)


def add_random_marks(
    images: torch.Tensor, rng: np.random.Generator, probability: float, max_marks: int = 3
) -> torch.Tensor:
    """A copy of ``images`` (B, 3, H, W) in [-1, 1] where each image, with ``probability``, gets 1 to
    ``max_marks`` marks of a uniformly random colour in [-1, 1]³ blended with a random opacity in [0.5, 1].

    Images must be square. The result stays in [-1, 1]; unmarked images are returned unchanged.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    batch, _, height, width = images.shape
    if height != width:
        raise ValueError(f"images must be square, got {height}x{width}")
    out = images.clone()
    for i in range(batch):
        if rng.random() >= probability:
            continue
        for _ in range(int(rng.integers(1, max_marks + 1))):
            alpha = torch.from_numpy(_mark_alpha(height, rng)).to(out)
            colour = torch.from_numpy(rng.uniform(-1.0, 1.0, 3).astype(np.float32)).to(out)[:, None, None]
            out[i] = out[i] * (1 - alpha) + colour * alpha
    return out
