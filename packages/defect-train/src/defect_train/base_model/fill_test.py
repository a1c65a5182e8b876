"""The base model's fill test (model card, issues 7 and 17): a 24 x 32 px hole in 64 px surface crops, filled
with the plain prompt "a photo of {surface}"; the model card and its test compare the fills with other real
crops by KID (defect-metrics, which defect-train does not depend on, so the comparison lives with them)."""

from __future__ import annotations

import numpy as np
import torch

FILL_STEPS = 30


def hole_mask(size: int = 64) -> np.ndarray:
    """bool (size, size): the 24 x 32 px hole of the fill test (rows 20-43, columns 16-47 at 64 px)."""
    mask = np.zeros((size, size), bool)
    mask[20:44, 16:48] = True
    return mask


def fill_holes(pipe, crops: torch.Tensor, surfaces: list[str], steps: int = FILL_STEPS) -> torch.Tensor:
    """``crops`` (N, 3, 64, 64) in [-1, 1] with :func:`hole_mask` filled by ``pipe`` (a loaded inpainting
    pipeline), one sampler call per surface with its prompt, seed 0; returns (N, 3, 64, 64) in [-1, 1]."""
    from defect_sample.conditioning import pil_to_tensor, tensor_to_pil
    from defect_sample.sampler import DefectFillSampler

    sampler = DefectFillSampler.from_pipeline(pipe)
    images = tensor_to_pil(crops)
    filled = {}
    for surface in sorted(set(surfaces)):
        idx = [i for i, s in enumerate(surfaces) if s == surface]
        result = sampler(
            images=[images[i] for i in idx],
            masks=[hole_mask(crops.shape[-1])] * len(idx),
            prompt=f"a photo of {surface}",
            num_inference_steps=steps,
            seed=0,
        )
        filled.update({i: candidates[0] for i, candidates in zip(idx, result.images, strict=True)})
    return pil_to_tensor([filled[i] for i in range(len(images))])
