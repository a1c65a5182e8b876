"""Tiny Defect-Gen generators for the tests: two small ``UNet2DModel``s (32 px, widths 8 / 16) and a card."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DModel

from defect_core.generator_card import GeneratorCard

RESOLUTION = 32
CLASSES = {1: "crack", 2: "hole"}
CHANNELS = 3 + 1 + len(CLASSES)


def tiny_unet(seed: int, attention: bool, channels: int = CHANNELS) -> UNet2DModel:
    """A two-level ``UNet2DModel`` with random weights (the large one with attention at its coarse level)."""
    torch.manual_seed(seed)
    down = ("DownBlock2D", "AttnDownBlock2D" if attention else "DownBlock2D")
    up = ("AttnUpBlock2D" if attention else "UpBlock2D", "UpBlock2D")
    net = UNet2DModel(
        sample_size=RESOLUTION,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        attention_head_dim=8,
        down_block_types=down,
        up_block_types=up,
    )
    # larger outputs: predicted x0 beyond [-1, 1] exercises the clamp, and the labels vary over the image
    with torch.no_grad():
        net.conv_out.weight.mul_(5.0)
    return net.eval()


def tiny_card(**changes) -> GeneratorCard:
    values = dict(
        object_name="bottle",
        classes=CLASSES,
        resolution=RESOLUTION,
        size="cpu",
        training={"dataset": "demo", "steps": 0},
        created="2026-01-01T00:00:00+00:00",
    )
    values.update(changes)
    return GeneratorCard(**values)


def write_tiny_generator(folder: Path, **card_changes) -> Path:
    """A saved tiny generator (large network seed 1 with attention, small seed 2 without)."""
    from defect_sample.defectgen import save_generator

    return save_generator(folder, tiny_unet(1, True), tiny_unet(2, False), tiny_card(**card_changes))
