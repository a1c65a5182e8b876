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
from defect_train.base_model.fill_test import fill_holes
from defect_train.base_model.texture_data import TextureCrops

SURFACES = ("brick", "grass", "gravel")


def random_conv_features(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, 96) features of defect-metrics' seeded random ConvNet."""
    with torch.no_grad():
        return RandomConvFeatures()((images.float() + 1.0) * 127.5).numpy().astype(np.float64)


def fills(model: str, crops: torch.Tensor, surfaces: list[str]) -> torch.Tensor:
    return fill_holes(load_inpaint_pipeline(model), crops, surfaces)


def test_builtin_texture_fills_are_closer_to_real_crops_than_tiny_fills() -> None:
    data = TextureCrops.from_surfaces(SURFACES, size=64, min_side=64, max_side=320)
    crops, surfaces = data.draw(np.random.default_rng(0), 48, split="held_out")
    reference, _ = data.draw(np.random.default_rng(1), 48, split="held_out")
    real = random_conv_features(reference)
    texture = kid(real, random_conv_features(fills("builtin:texture", crops, surfaces)), subset_size=48)
    tiny = kid(real, random_conv_features(fills("builtin:tiny", crops, surfaces)), subset_size=48)
    print(f"KID (random-conv features) texture {texture.mean:.5f}, tiny {tiny.mean:.5f}")
    assert texture.mean < tiny.mean
