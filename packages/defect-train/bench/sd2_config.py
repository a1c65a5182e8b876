"""The published UNet config of Stable Diffusion 2 inpainting (diffusers layout), for benchmarks that need
the real architecture with random weights (no download)."""

from __future__ import annotations

from typing import Any

SD2_INPAINT_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": (5, 10, 20, 20),
    "block_out_channels": (320, 640, 1280, 1280),
    "center_input_sample": False,
    "cross_attention_dim": 1024,
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 9,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "use_linear_projection": True,
}
"""Stable Diffusion 2 inpainting's unet/config.json (865 M parameters; sd2-community/stable-diffusion-2-inpainting,
the mirror of the removed stabilityai/stable-diffusion-2-inpainting)."""

SD2_TEXT_ENCODER: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "max_position_embeddings": 77,
    "vocab_size": 49408,
    "projection_dim": 512,
    "hidden_act": "gelu",
}
"""Its OpenCLIP ViT-H/14 text tower, as a transformers CLIPTextConfig (340 M parameters)."""


def reduced_width(config: dict[str, Any], divisor: int = 5) -> dict[str, Any]:
    """The same architecture with every block's channels divided by ``divisor`` (SD2-shaped, CPU-sized)."""
    out = dict(config)
    out["block_out_channels"] = tuple(c // divisor for c in config["block_out_channels"])
    out["attention_head_dim"] = tuple(
        max(1, h // divisor) if divisor > 1 else h for h in config["attention_head_dim"]
    )
    out["norm_num_groups"] = 32 if all(c % 32 == 0 for c in out["block_out_channels"]) else 16
    return out
