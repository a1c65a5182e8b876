"""Low-Fidelity Selection (LFS): score every candidate inside the mask, keep the one where the defect shows.

A registry of selection metrics, each with the direction that means "differs more from the normal image":

- ``lpips``: highest masked LPIPS (AlexNet), DefectFill's choice;
- ``psnr`` / ``ssim``: lowest masked PSNR / SSIM, alternatives that need no network weights;
- ``none``: no scoring, the first candidate.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image

from defect_sample.masked_metrics import masked_psnr, masked_ssim

logger = logging.getLogger(__name__)

# score(candidates (K, 3, H, W) in [0, 1], reference (1, 3, H, W) in [0, 1], mask bool (H, W)) -> (K,)
ScoreFn = Callable[[torch.Tensor, torch.Tensor, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Selection:
    """Scores of the candidates (in order; empty for ``none``) and the index of the kept one."""

    index: int
    scores: tuple[float, ...] = ()


@dataclass
class CandidateSelector:
    """One selection metric, ready to score: ``selector(candidates, normal, mask) -> Selection``."""

    name: str
    keep: Literal["max", "min", "first"]
    score: ScoreFn | None = field(default=None, repr=False)

    def __call__(self, candidates: Sequence[Image.Image], normal: Image.Image, mask: np.ndarray) -> Selection:
        """Score PIL candidates against the normal image (same size) inside ``mask`` (bool (H, W))."""
        if not candidates:
            raise ValueError("no candidates to select from")
        if self.score is None or self.keep == "first":
            return Selection(index=0)
        scores = np.asarray(
            self.score(
                images_to_unit_tensor(candidates),
                images_to_unit_tensor([normal]),
                np.asarray(mask, dtype=bool),
            ),
            dtype=np.float64,
        )
        index = int(np.argmax(scores) if self.keep == "max" else np.argmin(scores))
        return Selection(index=index, scores=tuple(float(s) for s in scores))


def images_to_unit_tensor(images: Sequence[Image.Image]) -> torch.Tensor:
    """PIL RGB images of one size → float32 (B, 3, H, W) in [0, 1]."""
    arrays = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2).contiguous()


# factory(device, lpips_weights) -> CandidateSelector
_SELECTORS: dict[str, Callable[[torch.device, str | os.PathLike | None], CandidateSelector]] = {}


def register_selector(name: str):
    """Decorator: make a selector factory available to :func:`create_selector` as ``name``."""

    def decorate(factory):
        _SELECTORS[name] = factory
        return factory

    return decorate


def available_selectors() -> list[str]:
    """Names accepted by :func:`create_selector`."""
    return sorted(_SELECTORS)


def create_selector(
    name: str, device: str | torch.device = "cpu", lpips_weights: str | os.PathLike | None = None
) -> CandidateSelector:
    """The selector ``name`` (see the module docstring). ``lpips`` loads AlexNet from ``lpips_weights`` or the
    torchvision hub cache and raises ``MissingWeightsError`` naming the file when it is absent."""
    if name not in _SELECTORS:
        raise ValueError(f"unknown selection metric {name!r}; available: {', '.join(available_selectors())}")
    return _SELECTORS[name](torch.device(device), lpips_weights)


@register_selector("lpips")
def _lpips_selector(device: torch.device, weights: str | os.PathLike | None) -> CandidateSelector:
    from defect_sample.lpips_scorer import LpipsScorer

    return CandidateSelector("lpips", "max", LpipsScorer.from_hub_cache(device, weights))


@register_selector("psnr")
def _psnr_selector(device: torch.device, weights: str | os.PathLike | None) -> CandidateSelector:
    return CandidateSelector("psnr", "min", masked_psnr)


@register_selector("ssim")
def _ssim_selector(device: torch.device, weights: str | os.PathLike | None) -> CandidateSelector:
    return CandidateSelector("ssim", "min", masked_ssim)


@register_selector("none")
def _no_selector(device: torch.device, weights: str | os.PathLike | None) -> CandidateSelector:
    return CandidateSelector("none", "first", None)
