"""Defect-Gen's training objective: the network predicts x0 from x_t, scored by the mean squared error."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def x0_loss(model, scheduler, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """``mean((x0 − f(x_t, t))²)`` over every element, with x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.

    ``x0`` (B, C, R, R): clean samples (RGB in [-1, 1] and one-hot channels); ``noise``: ε, same shape;
    ``timesteps`` (B,) int64 in [0, T); ``scheduler``: the diffusers scheduler whose ``add_noise`` makes x_t
    (:func:`defect_sample.defectgen.make_scheduler`); ``model``: a ``UNet2DModel`` predicting x0. The mean
    is over all channels, image and mask alike, as the authors' code does. Returns a 0-d float32 tensor.
    """
    x_t = scheduler.add_noise(x0, noise, timesteps)
    prediction = model(x_t, timesteps).sample
    return F.mse_loss(prediction.float(), x0.float())


def draw_timesteps_and_noise(
    x0: torch.Tensor, num_train_timesteps: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """t uniform in [0, T) (B,) and ε ~ N(0, I) like ``x0``, drawn on the CPU from ``generator`` (so that a
    resumed run draws the same numbers whatever the device), then moved to ``x0``'s device."""
    timesteps = torch.randint(0, num_train_timesteps, (x0.shape[0],), generator=generator)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    return timesteps.to(x0.device), noise.to(x0.device, x0.dtype)
