"""How close a training set's defect images are to the real ones: KID and IC-LPIPS per defect type.

DESIGN.md §5 defines both on pretrained networks (Inception-v3 pool features; LPIPS with an ImageNet AlexNet
trunk), read from their usual caches. ``"random-network"`` swaps in offline stand-ins for a machine without
those files: :class:`defect_metrics.RandomConvFeatures` for KID and LPIPS' calibrated layers on a seeded
random AlexNet trunk for IC-LPIPS. They rank the sets of one table, but their numbers are not comparable with
published ones, and every report says which networks it used.

- KID: generated images of a type against the real **held-out** images of that type (what the inspection
  models are tested on); mean over types, raw (the report shows × 10³).
- IC-LPIPS: the generated images are clustered on the real images the generator **learned from** (the
  training third), as DFMGAN and DESIGN.md §5 define it; mean over types. Higher means more diverse, less
  copied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

NETWORK_CHOICES = ("pretrained", "random-network", "off")
RANDOM_FEATURES_SIZE = 128
LPIPS_TRUNK_SEED = 0


@dataclass(frozen=True)
class QualityNetworks:
    """The networks of one table: ``kind`` is ``"pretrained"`` or ``"random-network"``."""

    kind: str
    extractor: torch.nn.Module | None  # None: Inception-v3 from clean-fid's cache, inside extract_features
    image_size: int
    lpips: torch.nn.Module

    @classmethod
    def load(cls, kind: str, device: str | torch.device = "cpu") -> QualityNetworks:
        """Load the networks; ``"pretrained"`` raises ``MissingWeightsError`` naming a missing file."""
        import torch

        from defect_metrics import INCEPTION_SIZE, RandomConvFeatures, load_inception, load_lpips

        if kind == "pretrained":
            return cls(kind, load_inception(device=device), INCEPTION_SIZE, load_lpips("alex", device=device))
        if kind == "random-network":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(LPIPS_TRUNK_SEED)
                lpips = load_lpips("alex", device=device, random_backbone=True)
            return cls(kind, RandomConvFeatures().to(device), RANDOM_FEATURES_SIZE, lpips)
        raise ValueError(f"networks must be 'pretrained' or 'random-network', got {kind!r}")

    def describe(self) -> str:
        if self.kind == "pretrained":
            return "KID on Inception-v3 features, IC-LPIPS with the ImageNet AlexNet trunk (DESIGN.md §5)"
        return (
            "offline stand-ins: KID on the features of a seeded random ConvNet, IC-LPIPS with LPIPS' "
            "calibration on a seeded random AlexNet trunk (Inception and AlexNet weights were not available); "
            "they compare the rows of this table, not published numbers"
        )


@dataclass(frozen=True)
class SetQuality:
    """KID (raw, mean and std over types' subset means) and IC-LPIPS of one training set, with per-type values."""

    kid: float
    ic_lpips: float
    per_defect: dict[str, dict[str, float]]


def measure_set(
    generated: Mapping[str, Sequence[Path]],
    held_out: Mapping[str, Sequence[Path]],
    learned_from: Mapping[str, Sequence[Path]],
    networks: QualityNetworks,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> SetQuality:
    """KID and IC-LPIPS of ``generated`` (defect type → image files) against the real images of each type."""
    from defect_metrics import ICLPIPSConfig, extract_features, ic_lpips, kid

    def features(paths: Sequence[Path]) -> np.ndarray:
        return extract_features(
            list(paths), networks.extractor, image_size=networks.image_size, device=device, progress=False
        )

    per_defect: dict[str, dict[str, float]] = {}
    for defect in sorted(generated):
        fake = list(generated[defect])
        if not fake or not held_out.get(defect) or not learned_from.get(defect):
            raise ValueError(f"{defect}: need generated, held-out and training images to measure a set")
        kernel = kid(features(held_out[defect]), features(fake), subset_size=1000, seed=seed)
        diversity = ic_lpips(
            fake,
            list(learned_from[defect]),
            config=ICLPIPSConfig(),
            network=networks.lpips,
            device=device,
            progress=False,
        )
        per_defect[defect] = {
            "kid": kernel.mean,
            "kid_std": kernel.std,
            "ic_lpips": diversity.value,
            "images": float(len(fake)),
        }
    return SetQuality(
        kid=float(np.mean([v["kid"] for v in per_defect.values()])),
        ic_lpips=float(np.mean([v["ic_lpips"] for v in per_defect.values()])),
        per_defect=per_defect,
    )


@dataclass(frozen=True)
class FeatureNetwork:
    """The features FID is computed on: clean-fid's Inception-v3 (``pretrained``) or the seeded random
    ConvNet stand-in (``random-network``), which ranks the sets of one table but is not comparable with
    published FIDs."""

    kind: str
    extractor: torch.nn.Module
    image_size: int

    @classmethod
    def load(cls, kind: str, device: str | torch.device = "cpu") -> FeatureNetwork:
        """Load the network; ``"pretrained"`` raises ``MissingWeightsError`` naming a missing Inception file."""
        from defect_metrics import INCEPTION_SIZE, RandomConvFeatures, load_inception

        if kind == "pretrained":
            return cls(kind, load_inception(device=device), INCEPTION_SIZE)
        if kind == "random-network":
            return cls(kind, RandomConvFeatures().to(device), RANDOM_FEATURES_SIZE)
        raise ValueError(f"networks must be 'pretrained' or 'random-network', got {kind!r}")

    def describe(self) -> str:
        if self.kind == "pretrained":
            return "FID on Inception-v3 pool features (clean-fid's network and resize)"
        return (
            "FID on the features of a seeded random ConvNet (offline stand-in: the Inception weights were not "
            "used); it compares the rows of this table, not published numbers"
        )

    def features(self, paths: Sequence[Path], device: str | torch.device = "cpu") -> np.ndarray:
        """Features float64 (N, d) of the image files."""
        from defect_metrics import extract_features

        return extract_features(
            list(paths), self.extractor, image_size=self.image_size, device=device, progress=False
        )


def fid_against(
    generated: Sequence[Path],
    reference: Sequence[Path] | np.ndarray,
    network: FeatureNetwork,
    device: str | torch.device = "cpu",
) -> float:
    """FID of the ``generated`` image files against ``reference`` (image files, or their features already
    extracted with ``network``); each needs at least two images."""
    from defect_metrics import fid

    reference_features = (
        reference if isinstance(reference, np.ndarray) else network.features(reference, device)
    )
    return fid(reference_features, network.features(generated, device))
