"""LPIPS as a squared Euclidean distance between per-image embeddings.

LPIPS (version 0.1, non-spatial) is ``Σ_l mean_{h,w} Σ_c w_{l,c} (f̂_l(x) − f̂_l(y))²_{c,h,w}`` with
channel-normalised trunk features ``f̂_l`` and non-negative calibration weights ``w_l``. Scaling each layer
by ``sqrt(w_{l,c} / (H_l W_l))`` and concatenating gives an embedding ``φ`` with
``LPIPS(x, y) = ‖φ(x) − φ(y)‖²``. So each image goes through the network once, and all pairwise distances
follow from one matrix product (``‖a‖² + ‖b‖² − 2 a·b``, in float64 to keep the cancellation harmless)
instead of one network call per pair.
"""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger(__name__)


class LPIPSEmbedder:
    """Maps images (N, 3, H, W), float in [-1, 1], to float32 embeddings (N, D) of an ``lpips.LPIPS`` network."""

    def __init__(self, network: torch.nn.Module) -> None:
        if not getattr(network, "lpips", False) or getattr(network, "spatial", True):
            raise ValueError("LPIPSEmbedder needs lpips.LPIPS(lpips=True, spatial=False)")
        if getattr(network, "version", "0.1") != "0.1":
            raise ValueError(f"LPIPSEmbedder supports LPIPS version 0.1, got {network.version}")
        self.network = network
        scales = []
        for layer in network.lins:
            conv = layer.model[-1]
            weight = conv.weight.detach().reshape(-1)
            if (weight < 0).any():
                raise ValueError("LPIPS calibration weights must be non-negative to be written as a distance")
            scales.append(weight.sqrt())
        self.scales = scales

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        import lpips

        device = next(self.network.parameters()).device
        images = images.to(device=device, dtype=torch.float32)
        outputs = self.network.net.forward(self.network.scaling_layer(images))
        parts = []
        for feature, scale in zip(outputs, self.scales, strict=True):
            normalised = lpips.normalize_tensor(feature)
            spatial = feature.shape[2] * feature.shape[3]
            weight = (scale.to(device) / spatial**0.5)[None, :, None, None]
            parts.append((normalised * weight).flatten(1))
        return torch.cat(parts, dim=1)


def squared_distances(
    a: torch.Tensor, b: torch.Tensor, b_squared_norms: torch.Tensor | None = None
) -> torch.Tensor:
    """All ``‖a_i − b_j‖²`` of embeddings ``a`` (n, D) and ``b`` (m, D): float64 (n, m), clipped at 0.

    ``b_squared_norms`` (m,) may be passed when ``b`` is reused (e.g. the training set against every batch);
    pass ``b`` as float64 then too, so that it is not converted again.
    """
    a64 = a.to(torch.float64)
    b64 = b.to(device=a.device, dtype=torch.float64)
    if b_squared_norms is None:
        b_squared_norms = (b64 * b64).sum(1)
    squared = (a64 * a64).sum(1)[:, None] + b_squared_norms.to(a.device)[None, :] - 2.0 * (a64 @ b64.T)
    return squared.clamp_min_(0.0)


def pairwise_squared_distances(a: torch.Tensor) -> torch.Tensor:
    """All ``‖a_i − a_j‖²`` within one set of embeddings (n, D): float64 (n, n), zero diagonal, from one Gram
    matrix."""
    a64 = a.to(torch.float64)
    gram = a64 @ a64.T
    norms = gram.diagonal()
    squared = (norms[:, None] + norms[None, :] - 2.0 * gram).clamp_min_(0.0)
    return squared.fill_diagonal_(0.0)
