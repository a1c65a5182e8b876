"""Defect-Gen's schedule against the cosine formula by hand, and its updates against the posterior by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from defect_sample.defectgen import make_ddim_scheduler, make_scheduler
from defect_sample.defectgen.two_stage import denoise


def cosine_alphas_cumprod(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """ᾱ by hand (Nichol & Dhariwal): f(t) = cos²(((t/T) + s)/(1 + s) · π/2), β_t = min(1 − f(t+1)/f(t), 0.999),
    ᾱ_t = Π_{i<=t} (1 − β_i); step t of the scheduler is the noise level after t + 1 forward steps."""
    f = [math.cos(((t / T) + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    betas = [min(1 - f[t + 1] / f[t], max_beta) for t in range(T)]
    return np.cumprod([1 - b for b in betas])


@pytest.mark.parametrize("T", [1000, 20])
def test_alphas_cumprod_follow_the_cosine_formula(T):
    expected = cosine_alphas_cumprod(T)
    for scheduler in (make_scheduler(T), make_ddim_scheduler(T)):
        got = scheduler.alphas_cumprod.double().numpy()
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-9)
    # away from the clipped end, ᾱ_t is the closed form f(t + 1) / f(0)
    f = lambda t: math.cos(((t / T) + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    half = T // 2
    np.testing.assert_allclose(expected[half], f(half + 1) / f(0), rtol=1e-12)
    # β is clipped at 0.999 at the last step only, where f(T) = cos²(π/2) ≈ 0
    betas = make_scheduler(T).betas.double().numpy()
    assert betas.max() == pytest.approx(0.999, abs=1e-6) and np.argmax(betas) == T - 1


def test_schedulers_predict_x0_and_clamp_it():
    for scheduler in (make_scheduler(), make_ddim_scheduler()):
        assert scheduler.config.prediction_type == "sample"
        assert scheduler.config.beta_schedule == "squaredcos_cap_v2"
        assert scheduler.config.clip_sample and scheduler.config.clip_sample_range == 1.0
        assert scheduler.config.num_train_timesteps == 1000
    ddim = make_ddim_scheduler()
    ddim.set_timesteps(4)
    assert ddim.timesteps.tolist() == [999, 749, 499, 249]  # starts at pure noise, t = 999


class ScaledInput(torch.nn.Module):
    """A stand-in network whose x0 prediction is ``scale · x_t`` (so each step's input matters)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the module a device and dtype

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self.anchor.dtype

    def forward(self, x, t):
        return SimpleNamespace(sample=self.scale * x)


def fake_generator(T: int, switch: int, large_scale: float = 3.0, small_scale: float = 0.5):
    from defect_sample.defectgen import DefectGenerator

    card = SimpleNamespace(num_train_timesteps=T, switch_step=switch, num_channels=5, resolution=2)
    return DefectGenerator(
        large=ScaledInput(large_scale), small=ScaledInput(small_scale), scheduler=make_scheduler(T), card=card
    )


def test_ddim_update_uses_the_clamped_x0_for_both_terms_by_hand():
    """2 DDIM steps (t = 999 large, 499 small), eta 0: x_prev = √ᾱ_prev · c + √(1 − ᾱ_prev) · (x_t − √ᾱ_t c)/√(1 − ᾱ_t)
    with c = clamp(scale · x_t), the ε re-derived from the clamped x0."""
    T, seed = 1000, 7
    out = denoise(fake_generator(T, switch=500), [seed], steps=2, switch_step=500).double()
    abar = cosine_alphas_cumprod(T)
    x = torch.randn((5, 2, 2), generator=torch.Generator().manual_seed(seed)).double()
    for t, prev, scale in ((999, 499, 3.0), (499, None, 0.5)):
        c = (scale * x).clamp(-1, 1)
        a_t, a_prev = abar[t], (abar[prev] if prev is not None else 1.0)
        eps = (x - math.sqrt(a_t) * c) / math.sqrt(1 - a_t)
        x = math.sqrt(a_prev) * c + math.sqrt(1 - a_prev) * eps
    torch.testing.assert_close(out[0], x, atol=1e-5, rtol=1e-5)


def test_ddpm_update_is_the_posterior_of_the_clamped_x0_by_hand():
    """All T steps (T = 4, switch 2): x_{t-1} = μ̃(x_t, clamp(x0)) + σ̃_t z, z from the item's own generator
    (x_T first, then one draw per step with t > 0), σ̃²_t = β_t (1 − ᾱ_{t-1}) / (1 − ᾱ_t)."""
    T, seed = 4, 3
    out = denoise(fake_generator(T, switch=2), [seed]).double()
    abar = cosine_alphas_cumprod(T)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((5, 2, 2), generator=gen).double()
    for t in range(T - 1, -1, -1):
        scale = 3.0 if t >= 2 else 0.5
        c = (scale * x).clamp(-1, 1)
        a_t, a_prev = abar[t], (abar[t - 1] if t > 0 else 1.0)
        beta = 1 - a_t / a_prev
        mean = (math.sqrt(a_prev) * beta / (1 - a_t)) * c + (
            math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)
        ) * x
        if t > 0:
            z = torch.randn((1, 5, 2, 2), generator=gen)[0].double()
            x = mean + math.sqrt(beta * (1 - a_prev) / (1 - a_t)) * z
        else:
            x = mean
    torch.testing.assert_close(out[0], x, atol=1e-5, rtol=1e-5)
