"""builtin:texture (issue 7, part 2): it loads offline through the normal loader, and its fills of held-out
surface crops are closer to real crops than builtin:tiny's, by KID.

Inception-v3 weights cannot be had offline, so the KID here uses the features of a fixed, seeded random
convolutional network (defect_metrics.RandomConvFeatures: random-network features rank image sets
sensibly, and the extractor is pluggable in defect-metrics for exactly this). The model card reports the same measurement.
"""

from __future__ import annotations

import numpy as np
import torch

from defect_metrics import RandomConvFeatures, kid
from defect_sample.model_loading import load_inpaint_pipeline
from defect_sample.sampler import DefectFillSampler
from defect_train.base_model.texture_data import TextureCrops

SURFACES = ("brick", "grass", "gravel")


def random_conv_features(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] → (N, 96) features of defect-metrics' seeded random ConvNet."""
    with torch.no_grad():
        return RandomConvFeatures()((images.float() + 1.0) * 127.5).numpy().astype(np.float64)


def hole_mask(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[20:44, 16:48] = True  # 24 × 32 px, the fill test
    return mask


def fills(model: str, crops: torch.Tensor, surfaces: list[str]) -> torch.Tensor:
    pipe = load_inpaint_pipeline(model)
    sampler = DefectFillSampler.from_pipeline(pipe)
    from defect_sample.conditioning import pil_to_tensor, tensor_to_pil

    images = tensor_to_pil(crops)
    out = []
    for surface in SURFACES:
        idx = [i for i, s in enumerate(surfaces) if s == surface]
        result = sampler(
            images=[images[i] for i in idx],
            masks=[hole_mask()] * len(idx),
            prompt=f"a photo of {surface}",
            num_inference_steps=30,
            seed=0,
        )
        out.extend((i, cands[0]) for i, cands in zip(idx, result.images, strict=True))
    return pil_to_tensor([im for _, im in sorted(out, key=lambda p: p[0])])


def test_builtin_texture_fills_are_closer_to_real_crops_than_tiny_fills() -> None:
    data = TextureCrops.from_surfaces(SURFACES, size=64, min_side=64, max_side=320)
    crops, surfaces = data.draw(np.random.default_rng(0), 48, split="held_out")
    reference, _ = data.draw(np.random.default_rng(1), 48, split="held_out")
    real = random_conv_features(reference)
    texture = kid(real, random_conv_features(fills("builtin:texture", crops, surfaces)), subset_size=48)
    tiny = kid(real, random_conv_features(fills("builtin:tiny", crops, surfaces)), subset_size=48)
    print(f"KID (random-conv features) texture {texture.mean:.5f}, tiny {tiny.mean:.5f}")
    assert texture.mean < tiny.mean
