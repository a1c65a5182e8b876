"""The pictures a person looks at after a stage, both on crops of the held-out strip.

- VAE stage, ``reconstructions.png``: rows of held-out crop | its reconstruction;
- UNet stage, ``fills.png``: rows of held-out crop | the hole | the fill, as the model card's ``fills.png``
  (the card's 24 x 32 px hole at 64 px, the surface's prompt, DDIM with background replacement).

Both stages of one seed draw the same held-out crops, so the two pictures show the same views.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.preview import image_grid, preview_grid
from defect_sample.conditioning import tensor_to_pil
from defect_train.base_model.texture_data import TextureCrops

logger = logging.getLogger(__name__)

RECONSTRUCTIONS, FILLS = "reconstructions.png", "fills.png"
# the numpy stream of the held-out crops ([seed, 2]); [seed, 1] is the latent-scaling batches'
HELD_OUT_STREAM = 2


def picture_cell(resolution: int) -> int:
    """Tile side of the pictures: the crop size, but at least 128 px so small crops stay visible."""
    return max(128, resolution)


def held_out_crops(data: TextureCrops, count: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """``count`` crops of the held-out strip, float (count, 3, S, S) in [-1, 1], and their surfaces.

    The same for every call with one ``seed`` and data, and the first k of ``count`` are those of ``k``.
    """
    return data.draw(np.random.default_rng([seed, HELD_OUT_STREAM]), count, split="held_out")


def hole_mask(size: int) -> np.ndarray:
    """The fill-test hole, bool (size, size), True inside: 3/8 of the side high, 1/2 wide, centred
    (rows 20:44, columns 16:48 at 64 px, the model card's 24 x 32 px hole)."""
    height, width = round(size * 3 / 8), size // 2
    top, left = (size - height) // 2, (size - width) // 2
    mask = np.zeros((size, size), bool)
    mask[top : top + height, left : left + width] = True
    return mask


def write_reconstructions(crops: torch.Tensor, reconstructions: torch.Tensor, path: Path) -> Path:
    """Rows of held-out crop | reconstruction (both float (N, 3, S, S) in [-1, 1]) as a PNG at ``path``."""
    rows = list(zip(tensor_to_pil(crops), tensor_to_pil(reconstructions), strict=True))
    grid = image_grid(rows, cell=picture_cell(crops.shape[-1]), header=("held-out crop", "reconstruction"))
    return save_image_atomic(grid, path)


@torch.no_grad()
def fill_holes(
    sampler,
    crops: Sequence[Image.Image],
    surfaces: Sequence[str],
    mask: np.ndarray,
    prompt_template: str,
    steps: int,
    seed: int,
) -> list[Image.Image]:
    """Fill ``mask`` (bool (S, S)) in every crop with ``sampler`` (a ``DefectFillSampler``), prompting
    ``prompt_template`` with the crop's surface; crop ``i`` uses seed ``seed + i``. Returns PIL RGB fills."""
    fills: dict[int, Image.Image] = {}
    for surface in sorted(set(surfaces)):
        idx = [i for i, s in enumerate(surfaces) if s == surface]
        out = sampler(
            images=[crops[i] for i in idx],
            masks=[mask] * len(idx),
            prompt=prompt_template.format(surface=surface),
            num_inference_steps=steps,
            seed=[seed + i for i in idx],
        )
        fills.update((i, candidates[0]) for i, candidates in zip(idx, out.images, strict=True))
    return [fills[i] for i in range(len(crops))]


def write_fills(
    crops: Sequence[Image.Image], mask: np.ndarray, fills: Sequence[Image.Image], path: Path
) -> Path:
    """Rows of held-out crop | hole overlay | fill as a PNG at ``path`` (:func:`defect_core.preview.preview_grid`)."""
    rows = [(crop, mask, fill) for crop, fill in zip(crops, fills, strict=True)]
    return save_image_atomic(preview_grid(rows, cell=picture_cell(crops[0].size[0])), path)
