"""The offline stand-in features for KID: fixed by their seed, shaped (N, 96), and they rank image sets."""

from __future__ import annotations

import numpy as np
import torch

from defect_metrics import RandomConvFeatures, kid


def _stripes(count: int, period: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = np.arange(64)[None, :]
    images = []
    for _ in range(count):
        phase = rng.uniform(0, period)
        row = 127.5 + 100 * np.sin(2 * np.pi * (x + phase) / period)
        images.append(np.repeat(row, 64, axis=0)[None].repeat(3, 0) + rng.normal(0, 5, (3, 64, 64)))
    return torch.tensor(np.clip(np.stack(images), 0, 255), dtype=torch.float32)


def test_features_are_fixed_by_the_seed() -> None:
    images = _stripes(4, 8, 0)
    a, b = RandomConvFeatures()(images), RandomConvFeatures()(images)
    assert a.shape == (4, 96) and torch.equal(a, b)
    assert not torch.equal(a, RandomConvFeatures(seed=7)(images))


def test_kid_on_random_features_ranks_image_sets() -> None:
    net = RandomConvFeatures()
    with torch.no_grad():
        real = net(_stripes(40, 8, 0)).double().numpy()
        same = net(_stripes(40, 8, 1)).double().numpy()
        other = net(_stripes(40, 3, 2)).double().numpy()
    assert kid(real, same, subset_size=40).mean < 0.1 * kid(real, other, subset_size=40).mean
