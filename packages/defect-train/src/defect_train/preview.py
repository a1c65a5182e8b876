"""The preview a person looks at: the concept being learned, filled into good images at held-out masks."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from defect_core.atomic import save_image_atomic
from defect_core.images import load_rgb
from defect_core.preview import preview_grid
from defect_sample.working_size import resize_pair, working_size

logger = logging.getLogger(__name__)


@torch.no_grad()
def write_training_preview(pipe, data, config, path: Path) -> Path | None:
    """Fill ``config.preview_count`` held-out masks into good images (or training images if there are no
    good ones) with the current weights and write ``normal | mask | generated`` rows to ``path``."""
    masks = data.held_out[: config.preview_count]
    backgrounds = data.normals or [e.image for e in data.examples]
    if not masks or not backgrounds:
        logger.warning("no held-out masks or backgrounds: no preview written")
        return None
    from defect_sample.sampler import DefectFillSampler

    # the sampler's geometry (aspect kept, long side = resolution); one sampler call takes one size, that
    # of the first background (the good images of one object share their size)
    size = working_size(load_rgb(backgrounds[0]).size, config.resolution)
    images, mask_arrays = [], []
    for i, example in enumerate(masks):
        image, mask = resize_pair(load_rgb(backgrounds[i % len(backgrounds)]), example.load_mask(), size)
        images.append(image)
        mask_arrays.append(mask)
    sampler = DefectFillSampler(pipe.vae, pipe.text_encoder, pipe.tokenizer, pipe.unet, pipe.scheduler)
    # LoRA dropout must be off while sampling; the training mode is restored afterwards
    modes = [(m, m.training) for m in (pipe.unet, pipe.text_encoder)]
    for module, _ in modes:
        module.eval()
    try:
        out = sampler(
            images=images,
            masks=mask_arrays,
            prompt=config.prompts()[0],
            num_candidates=1,
            num_inference_steps=config.preview_steps,
            seed=config.seed,
        )
    finally:
        for module, mode in modes:
            module.train(mode)
    rows = [(im, m, cands[0]) for im, m, cands in zip(images, mask_arrays, out.images, strict=True)]
    return save_image_atomic(preview_grid(rows, cell=max(128, config.resolution)), path)
