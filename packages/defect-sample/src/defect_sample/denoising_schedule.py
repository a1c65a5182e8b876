"""Which scheduler the sampler steps with, and which of its timesteps a given ``strength`` runs.

- ``"ddim"``: DDIM with the base model's scheduler config (betas, prediction type, spacing), DefectFill's
  sampler (DESIGN.md §4);
- ``"model"``: the base model's own scheduler class and config, what a stock diffusers pipeline samples
  with (Euler for SDXL inpainting 0.1: what DIAG ran).

``strength`` s in (0, 1] is diffusers' img2img / inpainting meaning: of ``num_inference_steps`` n,
``int(n * s)`` steps run, starting from the image latent noised to the first of them (s = 1: from pure
noise). DIAG's 0.99 with 30 steps runs 29.
"""

from __future__ import annotations

from typing import Literal

import torch

SchedulerKind = Literal["ddim", "model"]
SCHEDULER_KINDS: tuple[str, ...] = ("ddim", "model")


def create_scheduler(kind: str, base_scheduler):
    """A fresh scheduler of ``kind`` built from ``base_scheduler``'s config (never shared with the pipeline,
    whose own calls would move its step index)."""
    if kind == "ddim":
        from diffusers import DDIMScheduler

        config = dict(base_scheduler.config)
        # DDIM's own defaults (clip x0 to [-1, 1], final alpha 1) are for pixel-space models; every latent
        # diffusion config that names them says False, but a config written for another class (an Euler
        # one built without DDIM's keys) may not name them at all
        config.setdefault("clip_sample", False)
        config.setdefault("set_alpha_to_one", False)
        return DDIMScheduler.from_config(config)
    if kind == "model":
        return type(base_scheduler).from_config(base_scheduler.config)
    raise ValueError(f"unknown scheduler {kind!r}; choose one of {', '.join(SCHEDULER_KINDS)}")


def steps_run(num_inference_steps: int, strength: float) -> int:
    """How many denoising steps run: ``min(int(num_inference_steps * strength), num_inference_steps)``."""
    return min(int(num_inference_steps * strength), num_inference_steps)


def check_strength(num_inference_steps: int, strength: float) -> None:
    """Raise ``ValueError`` unless 0 < strength <= 1 and at least one step runs."""
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    if steps_run(num_inference_steps, strength) < 1:
        raise ValueError(
            f"strength {strength} with {num_inference_steps} steps runs int({num_inference_steps} * "
            f"{strength}) = 0 steps; raise the steps or the strength"
        )


def denoising_timesteps(
    scheduler, num_inference_steps: int, strength: float, device: torch.device
) -> torch.Tensor:
    """Set ``scheduler`` for ``num_inference_steps`` and return the timesteps ``strength`` runs (the last
    ``steps_run`` of them), as diffusers' ``get_timesteps`` does, begin index included."""
    scheduler.set_timesteps(num_inference_steps, device=device)
    t_start = num_inference_steps - steps_run(num_inference_steps, strength)
    begin = t_start * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        # index-based schedulers (Euler) add noise at the begin index before their first step
        scheduler.set_begin_index(begin)
    return scheduler.timesteps[begin:]
