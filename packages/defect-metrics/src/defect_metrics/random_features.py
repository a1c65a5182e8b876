"""An offline stand-in for Inception-v3 features: channel statistics of a fixed, seeded random ConvNet.

KID and FID are defined on Inception-v3 features (DESIGN.md §5), whose weights come from clean-fid's cache.
Where they cannot be had (no network, as on this project's CI), the features of a random convolutional
network still rank image sets by colour, contrast and local structure (random-network features are a known
baseline for perceptual statistics), but their scale differs from Inception's: numbers computed with them
compare settings within one table, never with published KIDs. Reports must say which features they used.
"""

from __future__ import annotations

import torch

RANDOM_FEATURES_SEED = 1234
_WIDTHS = ((3, 16), (16, 32), (32, 48))


class RandomConvFeatures(torch.nn.Module):
    """(N, 3, H, W) float in [0, 255] → (N, 96): per-channel mean and std of the last of three 3×3 stride-2
    ReLU convolutions (16, 32, 48 channels) with He-scaled Gaussian weights drawn from ``seed``.

    Any image size >= 8 px works; the same seed gives the same network on every machine.
    """

    def __init__(self, seed: int = RANDOM_FEATURES_SEED) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        weights = [
            torch.randn(c_out, c_in, 3, 3, generator=generator) / (c_in * 9) ** 0.5 for c_in, c_out in _WIDTHS
        ]
        for index, weight in enumerate(weights):
            self.register_buffer(f"weight{index}", weight)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) images, got {tuple(images.shape)}")
        x = images.float() / 127.5 - 1.0
        for index in range(len(_WIDTHS)):
            x = torch.relu(
                torch.nn.functional.conv2d(x, getattr(self, f"weight{index}"), stride=2, padding=1)
            )
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], dim=1)
