"""PSNR and SSIM between candidates and the normal image, restricted to the defect mask.

Low-Fidelity Selection keeps the candidate that is least faithful to the normal image inside the mask
(where the defect shows most): the lowest PSNR or SSIM, alternatives to the highest LPIPS.

Images are float tensors (B, 3, H, W) in [0, 1]; masks are bool (H, W).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from defect_core.masks import mask_bbox

PSNR_MAX_DB = 100.0
"""PSNR of identical regions (MSE 0), capped so that scores stay finite numbers in JSON."""
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
"""Wang et al. 2004: an 11 × 11 Gaussian window of σ 1.5, K1 0.01, K2 0.03, data range 1."""


def _check(candidates: torch.Tensor, reference: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    if candidates.ndim != 4 or reference.shape[1:] != candidates.shape[1:] or reference.shape[0] != 1:
        raise ValueError(
            f"need candidates (K, C, H, W) and reference (1, C, H, W), got "
            f"{tuple(candidates.shape)} and {tuple(reference.shape)}"
        )
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(candidates.shape[-2:]):
        raise ValueError(f"mask shape {mask.shape} differs from the images' {tuple(candidates.shape[-2:])}")
    if not mask.any():
        raise ValueError("mask is empty: nothing to compare")
    return torch.from_numpy(mask)


def masked_psnr(candidates: torch.Tensor, reference: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """PSNR in dB (K,) float64 over the mask's pixels (all channels), data range 1, capped at
    :data:`PSNR_MAX_DB`."""
    m = _check(candidates, reference, mask)
    diff = (candidates.double() - reference.double())[:, :, m]  # (K, C, n)
    mse = diff.pow(2).mean(dim=(1, 2)).clamp_min(10 ** (-PSNR_MAX_DB / 10))
    return (10 * torch.log10(1.0 / mse)).numpy()


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian (size,) float64."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (B, C, H, W) float64 of images (B, C, H, W) in [0, 1]; borders reflect-padded
    (``numpy.pad(mode="reflect")``), local statistics by the Gaussian window of :data:`SSIM_WINDOW`."""
    a, b = a.double(), b.double()
    channels = a.shape[1]
    g = gaussian_window()
    pad = g.numel() // 2
    kx = g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        return F.conv2d(F.conv2d(x, kx, groups=channels), ky, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def masked_ssim(candidates: torch.Tensor, reference: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """Mean SSIM (K,) float64 over the mask's pixels and the channels.

    Computed on the mask's bounding box grown by the window radius: a masked pixel's window then lies in
    the crop (or is padded at the image border exactly as on the full image), so the result equals the
    full-image map averaged over the mask, at a fraction of the cost.
    """
    m = _check(candidates, reference, mask)
    height, width = m.shape
    r = SSIM_WINDOW // 2
    y0, x0, y1, x1 = mask_bbox(m.numpy())
    y0, x0, y1, x1 = max(0, y0 - r), max(0, x0 - r), min(height, y1 + r), min(width, x1 + r)
    if min(y1 - y0, x1 - x0) <= r:
        # too thin a crop for reflect padding: use the whole image
        y0, x0, y1, x1 = 0, 0, height, width
    crop = (..., slice(y0, y1), slice(x0, x1))
    smap = ssim_map(candidates[crop], reference[crop].expand(candidates.shape[0], -1, -1, -1))
    return smap[:, :, m[y0:y1, x0:x1]].mean(dim=(1, 2)).numpy()
