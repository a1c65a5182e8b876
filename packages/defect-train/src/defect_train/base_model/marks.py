"""Random marks painted over training crops, so every part of the base model knows what photos lack.

Three tinted photographs hold no near-black, near-white or saturated region. A base model trained on them
alone maps a dark spot to latents far outside its range and has a UNet that never predicts such latents, so
a concept learned on it can place a hole but not colour it (builtin:texture v1 drew the demo's black holes
as green blobs). Stable Diffusion's pretraining data is full of spots, stains and lines; these marks stand in
for them. A share of the crops of *both* stages (VAE and UNet) get 1 to ``max_marks`` of:

- ``blob``: an opaque irregular patch (a thresholded smooth noise field inside a random ellipse envelope);
- ``stain``: a translucent patch whose opacity fades smoothly to zero at its edge;
- ``stroke``: a curved line of 1-5 px following a random walk;
- ``speckles``: 8-60 dots of 1-3 px scattered over the crop or a region of it.

Each mark's colour is dark (any hue, value 0-0.25), light (value 0.8-1) or coloured (saturation 0.4-1),
one third each. The code is self-contained on purpose: it uses no shape or painter of ``defect_core``
(``defect_core.builtin.demo.paint_defect`` and the ``defect_core.masks`` generators behind the benchmark's
holes and scratches), so the base model's marks are not the benchmark's defects; a test traces both and
checks that they share no function.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

MARK_KINDS = ("blob", "stain", "stroke", "speckles")
TONES = ("dark", "light", "coloured")


def _smooth_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field, float (size, size) roughly in [0, 1]: ``cells``² uniform values, bicubic-upsampled."""
    coarse = rng.uniform(0.0, 255.0, (cells, cells)).astype(np.uint8)
    field = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float32) / 255.0


def _envelope(size: int, rng: np.random.Generator, min_frac: float, max_frac: float) -> np.ndarray:
    """A rotated ellipse's normalised radius, float (size, size): < 1 inside, centred anywhere in the crop."""
    cy, cx = rng.uniform(0, size, 2)
    ry, rx = rng.uniform(min_frac * size, max_frac * size, 2) / 2
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return np.sqrt((u / rx) ** 2 + (v / ry) ** 2)


def _blob(size: int, rng: np.random.Generator) -> np.ndarray:
    radius = _envelope(size, rng, 0.08, 0.45)
    noise = _smooth_noise(size, int(rng.integers(3, 7)), rng)
    # the noise pushes the outline in and out by up to half the radius: irregular, never an exact ellipse
    inside = radius + 0.6 * (noise - 0.5) < 1.0
    return inside.astype(np.float32) * rng.uniform(0.8, 1.0)


def _stain(size: int, rng: np.random.Generator) -> np.ndarray:
    radius = _envelope(size, rng, 0.15, 0.6)
    noise = _smooth_noise(size, int(rng.integers(3, 6)), rng)
    fade = np.clip(1.0 - radius + 0.5 * (noise - 0.5), 0.0, 1.0)
    return np.clip(fade * 2.0, 0.0, 1.0) * rng.uniform(0.3, 0.7)


def _stroke(size: int, rng: np.random.Generator) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    point = rng.uniform(0, size, 2)
    heading = rng.uniform(0, 2 * np.pi)
    points = [tuple(float(v) for v in point)]
    for _ in range(int(rng.integers(3, 9))):
        heading += rng.normal(0.0, 0.5)
        point = point + rng.uniform(0.05, 0.2) * size * np.array([np.cos(heading), np.sin(heading)])
        points.append(tuple(float(v) for v in point))
    draw.line(points, fill=255, width=int(rng.integers(1, 6)), joint="curve")
    if rng.random() < 0.5:
        canvas = canvas.filter(ImageFilter.GaussianBlur(0.7))
    return np.asarray(canvas, dtype=np.float32) / 255.0 * rng.uniform(0.6, 1.0)


def _speckles(size: int, rng: np.random.Generator) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    x0, y0 = rng.uniform(0, size * 0.5, 2)
    extent = rng.uniform(0.3, 1.0) * size
    for _ in range(int(rng.integers(8, 61))):
        x, y = x0 + rng.uniform(0, extent), y0 + rng.uniform(0, extent)
        r = rng.uniform(0.5, 1.5)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(canvas, dtype=np.float32) / 255.0 * rng.uniform(0.6, 1.0)


_PAINTERS = {"blob": _blob, "stain": _stain, "stroke": _stroke, "speckles": _speckles}


def mark_colour(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A mark's tone and colour, float (3,) in [-1, 1]: dark, light or coloured, one third each."""
    tone = TONES[int(rng.integers(0, len(TONES)))]
    hue = rng.uniform(0.0, 1.0)
    if tone == "dark":
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.25))
    elif tone == "light":
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.0, 0.3), rng.uniform(0.8, 1.0))
    else:
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.4, 1.0), rng.uniform(0.3, 1.0))
    return tone, np.asarray(rgb, dtype=np.float32) * 2.0 - 1.0


def mark_alpha(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One mark's coverage (opacity), float (size, size) in [0, 1]."""
    if kind not in _PAINTERS:
        raise ValueError(f"unknown mark kind {kind!r}; available: {', '.join(MARK_KINDS)}")
    return _PAINTERS[kind](size, rng)


def add_random_marks(
    images: torch.Tensor, rng: np.random.Generator, probability: float, max_marks: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of ``images`` (B, 3, H, W) in [-1, 1] where each image, with ``probability``, gets 1 to
    ``max_marks`` marks (kinds of :data:`MARK_KINDS`, colours of :func:`mark_colour`); and the marks'
    coverage, float (B, 1, H, W) in [0, 1] (the highest opacity of any mark at a pixel; all 0: unmarked).

    Images must be square. The result stays in [-1, 1]; unmarked images are returned unchanged.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    batch, _, height, width = images.shape
    if height != width:
        raise ValueError(f"images must be square, got {height}x{width}")
    out = images.clone()
    coverage = torch.zeros(batch, 1, height, width, dtype=out.dtype, device=out.device)
    for i in range(batch):
        if rng.random() >= probability:
            continue
        for _ in range(int(rng.integers(1, max_marks + 1))):
            kind = MARK_KINDS[int(rng.integers(0, len(MARK_KINDS)))]
            alpha = torch.from_numpy(mark_alpha(kind, height, rng)).to(out)
            colour = torch.from_numpy(mark_colour(rng)[1]).to(out)[:, None, None]
            out[i] = out[i] * (1 - alpha) + colour * alpha
            coverage[i, 0] = torch.maximum(coverage[i, 0], alpha)
    return out, coverage
