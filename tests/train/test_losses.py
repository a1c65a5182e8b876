"""Each DefectFill loss against a hand computation on fixed tensors."""

from __future__ import annotations

import pytest
import torch

from defect_train.losses import LossWeights, attention_loss, defect_loss, object_loss, weighted_mse

TARGET = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
PRED = torch.zeros_like(TARGET)
MASK = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])


def test_defect_loss_is_masked_mean_over_all_elements() -> None:
    # (1·1² + 0·2² + 0·3² + 1·4²) / 4 elements — not divided by the mask area (which would give 8.5)
    assert defect_loss(TARGET, PRED, MASK).item() == pytest.approx(17 / 4)


def test_object_loss_weights_background_by_alpha() -> None:
    # weights M + 0.3 (1 − M) = [[1, .3], [.3, 1]]: (1 + .3·4 + .3·9 + 16) / 4
    assert object_loss(TARGET, PRED, MASK, alpha=0.3).item() == pytest.approx(20.9 / 4)


def test_attention_loss() -> None:
    attention = torch.tensor([[[[0.5, 0.0], [0.0, 1.0]]]])
    assert attention_loss(attention, MASK).item() == pytest.approx(0.25 / 4)


def test_weight_broadcasts_over_latent_channels() -> None:
    target = TARGET.expand(1, 4, 2, 2)
    # the same four values in each of 4 channels: the mean is unchanged
    assert weighted_mse(target, torch.zeros_like(target), MASK).item() == pytest.approx(17 / 4)


def test_paper_weights_combine() -> None:
    weights = LossWeights()
    assert (weights.defect, weights.object, weights.attention) == (0.5, 0.2, 0.05)
    total = weights.combine(torch.tensor(4.25), torch.tensor(5.225), torch.tensor(0.0625))
    assert total.item() == pytest.approx(0.5 * 4.25 + 0.2 * 5.225 + 0.05 * 0.0625)
