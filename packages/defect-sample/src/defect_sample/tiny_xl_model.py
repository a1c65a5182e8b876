"""``builtin:tiny-xl``: a tiny random SDXL-style inpainting pipeline, built here, never downloaded.

The architecture of ``diffusers/stable-diffusion-xl-1.0-inpainting-0.1`` at toy size: a 9-channel UNet with
SDXL's added conditioning (``addition_embed_type="text_time"``: the pooled text embedding of the second
text encoder and the six size / crop numbers), linear-projection transformers with several layers per block,
two CLIP text encoders whose penultimate hidden states are concatenated (the second with a text projection,
as SDXL's OpenCLIP-bigG), SDXL's VAE scaling factor and its Euler scheduler. The second tokenizer pads with
``"!"`` as SDXL's does, so a sampler that fed the first tokenizer's ids to the second encoder would differ.
Weights are random (fixed seeds); it fills noise, it does not know defects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from defect_sample.tiny_model import build_tiny_vae, write_tiny_tokenizer_files

if TYPE_CHECKING:
    from diffusers import StableDiffusionXLInpaintPipeline


TINY_XL_MODEL_VERSION = 1
"""Bumped whenever the architecture or seeds change, so that an old cached copy is rebuilt."""

TEXT_HIDDEN = 32
"""Hidden size of each tiny text encoder; the UNet's cross-attention width is twice this (both concatenated)."""
TIME_EMBED_DIM = 8
"""Width of each of the six size / crop numbers' sinusoidal embedding (SDXL: 256)."""


def _text_config(vocab_size: int, bos: int, eos: int, pad: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=TEXT_HIDDEN,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=3,  # SDXL reads the penultimate layer: more than two keep that choice meaningful
        max_position_embeddings=77,
        projection_dim=TEXT_HIDDEN,
        hidden_act="gelu",
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
    )


def _second_tokenizer_pads_with_bang(folder: Path) -> None:
    # SDXL's tokenizer_2 (OpenCLIP's) pads with "!" (id 0), not with the end-of-text token
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = folder / name
        data = json.loads(path.read_text())
        data["pad_token"] = "!"
        path.write_text(json.dumps(data))


def build_tiny_xl_pipeline(folder: Path) -> StableDiffusionXLInpaintPipeline:
    """Build the tiny SDXL inpainting pipeline with fixed seeds and save it (diffusers layout) into
    ``folder``."""
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionXLInpaintPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    vocab_size = write_tiny_tokenizer_files(folder / "tokenizer")
    write_tiny_tokenizer_files(folder / "tokenizer_2")
    _second_tokenizer_pads_with_bang(folder / "tokenizer_2")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    tokenizer_2 = CLIPTokenizer.from_pretrained(folder / "tokenizer_2")
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=9,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        transformer_layers_per_block=(1, 2),
        cross_attention_dim=2 * TEXT_HIDDEN,
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED_DIM,
        # six numbers (original H, W, crop top, left, target H, W) + the pooled text embedding
        projection_class_embeddings_input_dim=6 * TIME_EMBED_DIM + TEXT_HIDDEN,
        norm_num_groups=16,
    )
    torch.manual_seed(1)
    vae = build_tiny_vae(scaling_factor=0.13025, force_upcast=True)  # SDXL's VAE
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(_text_config(vocab_size, bos, eos, tokenizer.pad_token_id))
    torch.manual_seed(3)
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(vocab_size, bos, eos, tokenizer_2.pad_token_id))
    # SDXL inpainting 0.1's scheduler config: Euler, scaled-linear betas, epsilon prediction, leading spacing,
    # and the DDIM keys its file also carries (they decide what DDIMScheduler.from_config builds)
    scheduler = EulerDiscreteScheduler.from_config(
        {
            "num_train_timesteps": 1000,
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "beta_schedule": "scaled_linear",
            "prediction_type": "epsilon",
            "interpolation_type": "linear",
            "use_karras_sigmas": False,
            "timestep_spacing": "leading",
            "steps_offset": 1,
            "clip_sample": False,
            "set_alpha_to_one": False,
            "sample_max_value": 1.0,
            "skip_prk_steps": True,
        }
    )
    pipe = StableDiffusionXLInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    for part, model in (("text_encoder", text_encoder), ("text_encoder_2", text_encoder_2)):
        weights = folder / part / "model.safetensors"
        if not weights.is_file():
            # transformers writes a model's weights only in process 0 of an initialised torch.distributed
            # group (see tiny_model.py)
            from safetensors.torch import save_file

            save_file(
                {k: v.contiguous() for k, v in model.state_dict().items()},
                str(weights),
                metadata={"format": "pt"},
            )
    return pipe
