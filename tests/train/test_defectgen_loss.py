"""Defect-Gen's objective on hand values, and the EMA the sampler uses, against their formulas."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from defect_sample.defectgen import make_scheduler
from defect_train.base_model.ema import EmaWeights
from defect_train.defectgen.loss import draw_timesteps_and_noise, x0_loss

T = 1000


def _cosine_alpha_bar(t: int) -> float:
    """ᾱ_t of the cosine schedule (Nichol & Dhariwal): prod_{i<=t} (1 - β_i), β_i = min(1 - f(i+1)/f(i), 0.999),
    f(u) = cos²((u / T + 0.008) / 1.008 · π / 2)."""

    def f(u: float) -> float:
        return math.cos((u / T + 0.008) / 1.008 * math.pi / 2) ** 2

    value = 1.0
    for i in range(t + 1):
        value *= 1.0 - min(1.0 - f(i + 1) / f(i), 0.999)
    return value


class _Identity:
    """A "network" whose x0 prediction is its input x_t, so the loss is mean((x_t − x0)²)."""

    def __call__(self, x_t: torch.Tensor, timesteps: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(sample=x_t)


def test_x0_loss_on_hand_values() -> None:
    scheduler = make_scheduler(T)
    # two samples of 2 channels x 1 x 2 px: x0 and ε chosen by hand, t = 0 and t = 500
    x0 = torch.tensor([[[[1.0, -1.0]], [[0.0, 1.0]]], [[[0.5, 0.5]], [[1.0, 0.0]]]])
    noise = torch.tensor([[[[2.0, 0.0]], [[-1.0, 1.0]]], [[[0.0, -2.0]], [[1.0, 1.0]]]])
    timesteps = torch.tensor([0, 500])
    expected = 0.0
    for b, t in enumerate((0, 500)):
        a = _cosine_alpha_bar(t)
        x_t = math.sqrt(a) * x0[b] + math.sqrt(1 - a) * noise[b]
        expected += float(((x_t - x0[b]) ** 2).sum())
    expected /= x0.numel()  # mean over every element: batch, channels (image and mask alike), pixels
    loss = x0_loss(_Identity(), scheduler, x0, noise, timesteps)
    assert loss.ndim == 0
    assert math.isclose(float(loss), expected, rel_tol=1e-5)


def test_x0_loss_is_zero_for_a_perfect_prediction() -> None:
    x0 = torch.rand(2, 5, 4, 4) * 2 - 1

    class Oracle:
        def __call__(self, x_t, timesteps):
            return SimpleNamespace(sample=x0)

    noise = torch.randn_like(x0)
    assert float(x0_loss(Oracle(), make_scheduler(T), x0, noise, torch.tensor([3, 999]))) == 0.0


def test_timesteps_are_uniform_in_range_and_seeded() -> None:
    x0 = torch.zeros(4000, 1, 1, 1)
    t, noise = draw_timesteps_and_noise(x0, T, torch.Generator().manual_seed(1))
    assert t.min() >= 0 and t.max() <= T - 1 and t.dtype == torch.int64
    assert abs(float(t.float().mean()) - (T - 1) / 2) < 20  # mean of U{0..999} is 499.5; sd of the mean ~4.6
    t2, noise2 = draw_timesteps_and_noise(x0, T, torch.Generator().manual_seed(1))
    assert torch.equal(t, t2) and torch.equal(noise, noise2)


def test_ema_update_follows_the_formula() -> None:
    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(2.0)
    ema = EmaWeights(layer, 0.9999)
    with torch.no_grad():
        layer.weight.fill_(4.0)
    # step 0: d = min(0.9999, (1 + 0) / (10 + 0)) = 0.1 -> 0.1 * 2 + 0.9 * 4 = 3.8
    assert math.isclose(ema.update(layer, 0), 0.1)
    assert math.isclose(float(ema.shadow["weight"]), 3.8, rel_tol=1e-6)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    # step 200 000: the warm-up is past, d = 0.9999 -> 0.9999 * 3.8
    assert ema.update(layer, 200_000) == 0.9999
    assert math.isclose(float(ema.shadow["weight"]), 0.9999 * 3.8, rel_tol=1e-6)
