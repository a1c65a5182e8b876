"""The few defect pairs, loaded once, and the paper's augmentation.

Examples are resized once to the training resolution; each step draws a batch and applies a random
resize by a factor in [min_resize, max_resize] followed by a random crop back to the resolution, to image
and mask together (DESIGN.md §4). All randomness comes from one numpy Generator so that a resumed run
draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from defect_core.errors import DatasetError, InputFileError
from defect_core.example import DefectExample
from defect_core.images import load_rgb

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingBatch:
    """images: float (B, 3, R, R) in [-1, 1]; masks: float (B, 1, R, R) of 0 / 1."""

    images: torch.Tensor
    masks: torch.Tensor


def _load_pair(example: DefectExample, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    image = load_rgb(example.image)
    mask = example.load_mask()
    if mask.shape != (image.height, image.width):
        raise InputFileError(example.mask, f"mask size {mask.shape[::-1]} differs from image size {image.size} "
                                           f"of {example.image}")
    if not mask.any():
        raise InputFileError(example.mask, "mask is empty: no defect pixel to learn from")
    if mask.all():
        raise InputFileError(example.mask, "mask covers the whole image: there is no background to keep")
    image = image.resize((resolution, resolution), Image.BICUBIC)
    mask_im = Image.fromarray(mask.astype(np.uint8) * 255).resize((resolution, resolution), Image.BILINEAR)
    # a defect pixel that the downscale thins to a faint grey still counts: thin scratches survive
    small = np.asarray(mask_im) > 0
    return np.asarray(image, dtype=np.uint8), small


class DefectPairs:
    """The training pairs at the training resolution, with seeded batch drawing and augmentation."""

    def __init__(self, examples: Sequence[DefectExample], resolution: int, batch_size: int,
                 min_resize: float = 1.0, max_resize: float = 1.125) -> None:
        if not examples:
            raise ValueError("no training examples: check the dataset, object, defect and split")
        problems, pairs = [], []
        for example in examples:
            try:
                pairs.append(_load_pair(example, resolution))
            except InputFileError as exc:
                problems.append(exc)
        if problems:
            raise DatasetError(examples[0].image.parent, problems)
        self.examples = list(examples)
        self.images = np.stack([p[0] for p in pairs])
        self.masks = np.stack([p[1] for p in pairs])
        self.resolution, self.batch_size = resolution, batch_size
        self.min_resize, self.max_resize = min_resize, max_resize
        self.with_replacement = len(examples) < batch_size
        if self.with_replacement:
            logger.warning("only %d example(s) for batch size %d: drawing batches with replacement",
                           len(examples), batch_size)

    def __len__(self) -> int:
        return len(self.examples)

    def draw(self, rng: np.random.Generator) -> TrainingBatch:
        """One augmented batch (distinct examples when there are enough)."""
        idx = rng.choice(len(self), size=self.batch_size, replace=self.with_replacement)
        images, masks = [], []
        for i in idx:
            image, mask = self.augment(self.images[i], self.masks[i], rng)
            images.append(image)
            masks.append(mask)
        images_t = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        masks_t = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
        return TrainingBatch(images_t, masks_t)

    def augment(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Resize image (R, R, 3) uint8 and mask (R, R) bool by one random factor, crop both at one offset."""
        r = self.resolution
        factor = rng.uniform(self.min_resize, self.max_resize)
        size = max(r, int(round(r * factor)))
        y0, x0 = (int(rng.integers(0, size - r + 1)) for _ in range(2))
        if size == r:
            return image, mask
        big = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))
        big_mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.NEAREST)) > 127
        return big[y0:y0 + r, x0:x0 + r], big_mask[y0:y0 + r, x0:x0 + r]
