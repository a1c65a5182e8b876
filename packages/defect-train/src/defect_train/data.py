"""The few defect pairs at the sampler's geometry, loaded once, and the paper's augmentation.

Each pair is resized, keeping its aspect ratio, to its working size: the size defect-sample generates at
(long side = the resolution, sides multiples of 8, :func:`defect_sample.working_size.working_size`), with
the sampler's own resize (:func:`defect_sample.working_size.resize_pair`: bicubic image, covering mask).
The concept so learns a defect at the scale and aspect at which it later fills masks; squashing every pair
to a square stretched a KSDD2 defect (about 230 × 630) 2.7× across before it was used at its true aspect.

Batches are not square. Every pair of a run is cut to one canvas, the element-wise smallest working size of
the pairs: for a dataset whose images share one size (each MVTec AD, VisA and KSDD2 object) that is exactly
the working size, so the model sees what the sampler shows it, the whole image. Square crops were the
alternative and lose on both counts: a square of the working image's short side (184 px of a 184 × 512 KSDD2
strip) cuts long defects and hides the context the sampler gives, and a square of the training resolution
needs an upscaling by long / short side, the scale error this module removes. The UNet, the losses, the
random boxes of M_rand (sides a fraction of each image side) and the attention maps all take any size that
is a multiple of 8. MVTec AD's square images train exactly as before: one R × R canvas.

Augmentation (paper): each step resizes image and mask by one random factor f in [min_resize, max_resize]
on both axes and crops back to the canvas, at a random offset among those that keep the defect's bounding
box inside the crop (along an axis where the defect is longer than the canvas: among those that keep one
randomly drawn defect pixel inside), so a crop never loses the defect it is meant to teach. All randomness
comes from one numpy Generator, so that a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError
from defect_core.images import load_rgb
from defect_core.masks import resize_mask_covering
from defect_sample.working_size import resize_pair, working_size

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingBatch:
    """images: float (B, 3, H, W) in [-1, 1]; masks: float (B, 1, H, W) of 0 / 1; H, W multiples of 8."""

    images: torch.Tensor
    masks: torch.Tensor


def load_pair(example: DefectExample, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The example at its working size (long side ``resolution``): uint8 (h, w, 3) image, bool (h, w) mask.

    Resized exactly as defect-sample resizes a normal image and its mask; raises :class:`InputFileError`
    for a mask of another size than its image, an empty mask or a mask without background.
    """
    image = load_rgb(example.image)
    mask = example.load_mask()
    if mask.shape != (image.height, image.width):
        raise InputFileError(
            example.mask,
            f"mask size {mask.shape[::-1]} differs from image size {image.size} of {example.image}",
        )
    if not mask.any():
        raise InputFileError(example.mask, "mask is empty: no defect pixel to learn from")
    if mask.all():
        raise InputFileError(example.mask, "mask covers the whole image: there is no background to keep")
    small, small_mask = resize_pair(image, mask, working_size(image.size, resolution))
    return np.asarray(small, dtype=np.uint8), small_mask


def crop_offset(lo: int, hi: int, size: int, crop: int, pixel: int, rng: np.random.Generator) -> int:
    """A random start of a ``crop``-long window in ``[0, size)`` that holds the defect span ``[lo, hi)``,
    or, when the span is longer than the window, that holds position ``pixel`` (a defect pixel)."""
    if hi - lo <= crop:
        first, last = max(0, hi - crop), min(lo, size - crop)
    else:
        first, last = max(0, pixel - crop + 1), min(pixel, size - crop)
    return int(rng.integers(first, last + 1))


class DefectPairs:
    """The training pairs at their working size, with seeded batch drawing and augmentation."""

    def __init__(
        self,
        examples: Sequence[DefectExample],
        resolution: int,
        batch_size: int,
        min_resize: float = 1.0,
        max_resize: float = 1.125,
    ) -> None:
        if not examples:
            raise ValueError("no training examples: check the dataset, object, defect and split")
        if not 1.0 <= min_resize <= max_resize:
            raise ValueError(f"need 1 <= min_resize <= max_resize, got {min_resize}, {max_resize}")
        problems, pairs = [], []
        for example in examples:
            try:
                pairs.append(load_pair(example, resolution))
            except InputFileError as exc:
                problems.append(exc)
        if problems:
            raise DatasetError(examples[0].image.parent, problems)
        self.examples = list(examples)
        self.images = [p[0] for p in pairs]
        self.masks = [p[1] for p in pairs]
        self.canvas = (min(m.shape[0] for m in self.masks), min(m.shape[1] for m in self.masks))
        """(height, width) of every training image: the smallest working size of the pairs."""
        self.resolution, self.batch_size = resolution, batch_size
        self.min_resize, self.max_resize = min_resize, max_resize
        self.with_replacement = len(examples) < batch_size
        if self.with_replacement:
            # expected in few-shot training (the demo learns from 3 pairs at batch 4), so not a warning
            logger.info(
                "only %d example(s) for batch size %d: drawing batches with replacement",
                len(examples),
                batch_size,
            )
        sizes = sorted({m.shape for m in self.masks})
        if len(sizes) > 1:
            logger.info(
                "training pairs have %d working sizes %s: every crop is %dx%d (width x height)",
                len(sizes),
                [f"{w}x{h}" for h, w in sizes],
                self.canvas[1],
                self.canvas[0],
            )

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

    def augment(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Resize image (h, w, 3) uint8 and mask (h, w) bool by one random factor on both axes, then crop
        both to the canvas at one offset that keeps the defect (see the module docstring)."""
        ch, cw = self.canvas
        h, w = mask.shape
        # one factor for both axes keeps the aspect; a pair larger than the canvas needs no enlargement
        factor = max(rng.uniform(self.min_resize, self.max_resize), ch / h, cw / w)
        size = (int(round(w * factor)), int(round(h * factor)))  # PIL's (width, height)
        if size != (w, h):
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
            mask = resize_mask_covering(mask, size)
        ys, xs = np.nonzero(mask)
        pick = int(rng.integers(len(ys)))
        y0 = crop_offset(int(ys.min()), int(ys.max()) + 1, size[1], ch, int(ys[pick]), rng)
        x0 = crop_offset(int(xs.min()), int(xs.max()) + 1, size[0], cw, int(xs[pick]), rng)
        return image[y0 : y0 + ch, x0 : x0 + cw], mask[y0 : y0 + ch, x0 : x0 + cw]
