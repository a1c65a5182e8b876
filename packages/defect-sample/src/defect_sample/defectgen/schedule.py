"""The noise schedule of Defect-Gen (DESIGN.md §4b) as diffusers schedulers.

T = 1000 steps of the cosine schedule (Nichol & Dhariwal, s = 0.008, β clipped at 0.999), the networks predict
x0 and the predicted x0 is clamped to [-1, 1] (images and one-hot masks both live there).

Which update runs:

- all T steps (the default, as the paper samples): :func:`make_scheduler`'s ``DDPMScheduler``: ancestral
  sampling from the posterior q(x_{t-1} | x_t, x0) with the *clamped* x0 and the posterior variance. That is
  the update of the authors' code (guided-diffusion's ``p_sample`` with ``clip_denoised``).
- ``--steps N < T``: :func:`make_ddim_scheduler`'s ``DDIMScheduler`` on N "trailing" timesteps
  (999, 999 − T/N, …: the first step is the pure-noise step t = 999, as in the paper, which the default
  "leading" spacing would skip) with ``eta`` (0: deterministic). The DDIM update with the clamped x0 needs an
  ε; diffusers derives it from the *unclamped* x0 unless ``use_clipped_model_output=True``, and the two differ
  by exactly the residual of the clamp, √(1−ᾱ_prev−σ²)·√ᾱ_t/√(1−ᾱ_t)·(x0 − clamp(x0)). We pass
  ``use_clipped_model_output=True`` (ε re-derived from the clamped x0, as guided-diffusion's ``ddim_sample``
  does), so that the update is the posterior of one x0 estimate, the same one the DDPM update uses; with
  eta = 1 and N = T it then equals the DDPM update up to the variance choice.
"""

from __future__ import annotations

from typing import Any

from diffusers import DDIMScheduler, DDPMScheduler

COSINE_SCHEDULE = "squaredcos_cap_v2"
PREDICTION_TYPE = "sample"
CLIP_SAMPLE_RANGE = 1.0


def _schedule_kwargs(num_train_timesteps: int) -> dict[str, Any]:
    return {
        "num_train_timesteps": num_train_timesteps,
        "beta_schedule": COSINE_SCHEDULE,  # ᾱ(t) = cos²(((t/T) + 0.008) / 1.008 · π/2), β ≤ 0.999
        "prediction_type": PREDICTION_TYPE,
        "clip_sample": True,
        "clip_sample_range": CLIP_SAMPLE_RANGE,
    }


def make_scheduler(num_train_timesteps: int = 1000) -> DDPMScheduler:
    """The Defect-Gen ``DDPMScheduler``: cosine schedule, x0 prediction, x0 clamped to [-1, 1].

    Training noises with it (``add_noise``); sampling over all ``num_train_timesteps`` steps steps with it.
    """
    if num_train_timesteps < 1:
        raise ValueError(f"num_train_timesteps must be >= 1, got {num_train_timesteps}")
    return DDPMScheduler(**_schedule_kwargs(num_train_timesteps), variance_type="fixed_small")


def make_ddim_scheduler(num_train_timesteps: int = 1000) -> DDIMScheduler:
    """The same schedule as a ``DDIMScheduler`` for sampling with fewer steps (trailing timesteps, so the
    first step is t = T − 1; the last goes to ᾱ = 1, the clean image). Step it with
    ``use_clipped_model_output=True`` (see the module docstring)."""
    if num_train_timesteps < 1:
        raise ValueError(f"num_train_timesteps must be >= 1, got {num_train_timesteps}")
    return DDIMScheduler(
        **_schedule_kwargs(num_train_timesteps), timestep_spacing="trailing", set_alpha_to_one=True
    )


def ddim_like(scheduler: DDPMScheduler | DDIMScheduler) -> DDIMScheduler:
    """A ``DDIMScheduler`` with ``scheduler``'s schedule (e.g. a generator folder's saved scheduler), trailing
    timesteps, last step to the clean image."""
    return DDIMScheduler.from_config(scheduler.config, timestep_spacing="trailing", set_alpha_to_one=True)
