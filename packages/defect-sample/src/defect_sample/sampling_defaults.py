"""What a generation run uses for the settings nobody gave: per mode (a concept, or zero-shot with a prompt)
and per named preset.

- With a concept: DefectFill's sampler (8 LFS candidates kept by masked LPIPS, 50 DDIM steps, guidance 1.0,
  from pure noise).
- Zero-shot (``--prompt``): DIAG's published settings (Girella et al. 2024, their generation script): one
  image per (normal, mask), no selection, 30 steps, guidance 20, strength 0.99, negative prompt
  "smooth, plain, black, dark, shadow".
- ``preset="diag"``: all of DIAG's run on KSDD2, the zero-shot settings plus its base model (SDXL inpainting
  0.1, float16 on CUDA through ``dtype="auto"``), its scheduler (the model's own: Euler),
  ``padding_mask_crop=2``, images and masks squashed to 1024 x 1024 and the outputs resized back to
  224 x 632 (W x H).

Order of precedence: explicit settings (flags, config file, Python arguments) > preset > mode defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

DIAG_BASE_MODEL = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"
DIAG_NEGATIVE_PROMPT = "smooth, plain, black, dark, shadow"
DIAG_PROMPTS = ("white marks on the wall", "copper metal scratches")
"""DIAG's two KSDD2 prompts (one run each, 50 images per prompt), for callers that reproduce its table."""


@dataclass(frozen=True)
class ModeDefaults:
    """The defaults of one mode (see the module docstring)."""

    candidates: int
    select: str
    steps: int
    guidance: float
    strength: float
    negative_prompt: str | None


CONCEPT_DEFAULTS = ModeDefaults(
    candidates=8, select="lpips", steps=50, guidance=1.0, strength=1.0, negative_prompt=None
)
ZERO_SHOT_DEFAULTS = ModeDefaults(
    candidates=1, select="none", steps=30, guidance=20.0, strength=0.99, negative_prompt=DIAG_NEGATIVE_PROMPT
)

_PRESETS: dict[str, Mapping[str, Any]] = {}


def register_sample_preset(name: str, values: Mapping[str, Any]) -> None:
    """Register ``values`` (SampleConfig field -> value) under ``name``."""
    _PRESETS[name] = MappingProxyType(dict(values))


def sample_preset(name: str) -> Mapping[str, Any]:
    """The values of a registered preset; ``ValueError`` naming the available ones otherwise."""
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(sorted(_PRESETS))}")
    return _PRESETS[name]


def available_sample_presets() -> list[str]:
    return sorted(_PRESETS)


register_sample_preset(
    "diag",
    {
        "base_model": DIAG_BASE_MODEL,
        "candidates": ZERO_SHOT_DEFAULTS.candidates,
        "select": ZERO_SHOT_DEFAULTS.select,
        "steps": ZERO_SHOT_DEFAULTS.steps,
        "guidance": ZERO_SHOT_DEFAULTS.guidance,
        "strength": ZERO_SHOT_DEFAULTS.strength,
        "negative_prompt": DIAG_NEGATIVE_PROMPT,
        "padding_mask_crop": 2,
        "working_size": (1024, 1024),
        "output_size": (224, 632),
        "scheduler": "model",
    },
)
