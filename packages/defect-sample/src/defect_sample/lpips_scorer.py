"""LPIPS (AlexNet) for Low-Fidelity Selection, loaded without network access.

LPIPS has two parts: its linear calibration layers, which ship inside the ``lpips`` package, and the
AlexNet backbone, which torchvision downloads into its hub cache on first use. A factory GPU often has no
network, so the backbone is read from the hub cache file (``$TORCH_HOME/hub/checkpoints``, default
``~/.cache/torch/hub/checkpoints``; the file and its address are in :mod:`defect_core.weight_files`, shared
with defect-metrics' IC-LPIPS) and a missing file is a :class:`~defect_core.errors.MissingWeightsError`
saying which file goes where, never a download attempt.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from defect_core.masks import mask_bbox
from defect_core.weight_files import load_lpips_trunk, lpips_backbone_path

if TYPE_CHECKING:
    import lpips


logger = logging.getLogger(__name__)

LPIPS_MIN_SIZE = 32
"""Smallest side AlexNet's five feature stages accept (31 px; 32 for a round number)."""
NO_WEIGHTS_WAY_OUT = (
    "pass its path (--lpips-weights); or select by PSNR / SSIM (--select psnr), which needs no weights"
)


def build_lpips() -> lpips.LPIPS:
    """An LPIPS (AlexNet, v0.1) whose linear layers are the package's own and whose backbone is random.

    ``pnet_rand=True`` makes torchvision build AlexNet without weights, so nothing is downloaded; load the
    backbone with :func:`load_alexnet_backbone`. (Tests use this random-backbone LPIPS on purpose.)
    """
    import lpips

    with warnings.catch_warnings():
        # lpips passes torchvision's deprecated ``pretrained=False``; the behaviour is what we want
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(pretrained=True, net="alex", version="0.1", pnet_rand=True, verbose=False)
    return model.eval()


def load_alexnet_backbone(model, path: str | os.PathLike | None = None) -> Path:
    """Load torchvision's AlexNet weights (``features.*``) into an LPIPS model's backbone slices, from ``path``
    or torch's hub cache; returns the file read.

    A missing file raises :class:`~defect_core.errors.MissingWeightsError` naming it and where to get it; a
    file that is not AlexNet's checkpoint raises :class:`~defect_core.errors.InputFileError` naming it.
    """
    file = lpips_backbone_path("alex", path, way_out=NO_WEIGHTS_WAY_OUT)
    load_lpips_trunk(model.net, file, torch.load)
    return file


def lpips_crop_box(mask: np.ndarray, min_size: int = LPIPS_MIN_SIZE) -> tuple[int, int, int, int]:
    """The mask's bounding box ``(y0, x0, y1, x1)`` (end exclusive), grown around its centre to at least
    ``min_size`` per side and shifted to stay inside the image (smaller only when the image is)."""
    height, width = mask.shape
    y0, x0, y1, x1 = mask_bbox(np.asarray(mask, dtype=bool))

    def grow(lo: int, hi: int, limit: int) -> tuple[int, int]:
        size = min(max(hi - lo, min_size), limit)
        lo = max(0, min((lo + hi - size) // 2, limit - size))
        return lo, lo + size

    y0, y1 = grow(y0, y1, height)
    x0, x1 = grow(x0, x1, width)
    return y0, x0, y1, x1


class LpipsScorer:
    """Masked LPIPS between candidates and the normal image.

    Only the mask's pixels may differ: outside the mask, a candidate is replaced by the normal image, so
    that VAE reconstruction drift in the background does not count. The crop is the mask's bounding box
    grown to LPIPS's minimum size (:func:`lpips_crop_box`), resized up only if the image itself is smaller.
    """

    def __init__(self, model, device: str | torch.device = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)

    @classmethod
    def from_hub_cache(
        cls, device: str | torch.device = "cpu", weights: str | os.PathLike | None = None
    ) -> LpipsScorer:
        """LPIPS with the AlexNet backbone read from ``weights`` or the torchvision hub cache."""
        model = build_lpips()
        file = load_alexnet_backbone(model, weights)
        logger.info("LPIPS AlexNet backbone loaded from %s", file)
        return cls(model, device)

    @torch.no_grad()
    def __call__(self, candidates: torch.Tensor, reference: torch.Tensor, mask: np.ndarray) -> np.ndarray:
        """Distances (K,) float64; ``candidates`` (K, 3, H, W) and ``reference`` (1, 3, H, W) in [0, 1],
        ``mask`` bool (H, W). Larger = the candidate differs more from the normal image in the mask."""
        y0, x0, y1, x1 = lpips_crop_box(mask)
        m = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
        cand = candidates * m + reference * (1 - m)
        cand, ref = cand[..., y0:y1, x0:x1], reference[..., y0:y1, x0:x1]
        if min(cand.shape[-2:]) < LPIPS_MIN_SIZE:
            size = (max(cand.shape[-2], LPIPS_MIN_SIZE), max(cand.shape[-1], LPIPS_MIN_SIZE))
            cand = F.interpolate(cand, size=size, mode="bilinear", align_corners=False)
            ref = F.interpolate(ref, size=size, mode="bilinear", align_corners=False)
        cand = cand.to(self.device) * 2 - 1
        ref = ref.to(self.device).expand_as(cand) * 2 - 1
        return self.model(cand, ref).flatten().double().cpu().numpy()
