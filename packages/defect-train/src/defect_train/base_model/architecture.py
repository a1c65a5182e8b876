"""The small Stable-Diffusion-style models of the base-model recipe, built from the stage configs.

The noise schedule is Stable Diffusion's (scaled-linear betas 0.00085-0.012 over 1000 steps, epsilon
prediction), for training (DDPM) and for the exported pipeline (DDIM with SD 2's offsets), so that the
model behaves like the real base models the rest of defectfill expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from defect_train.base_model.config import UnetStageConfig, VaeStageConfig

if TYPE_CHECKING:
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel


SD_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
}


def build_vae(config: VaeStageConfig) -> AutoencoderKL:
    """A freshly initialised ``AutoencoderKL`` (the caller seeds torch)."""
    from diffusers import AutoencoderKL

    n = len(config.block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block,
        latent_channels=config.latent_channels,
        norm_num_groups=config.norm_num_groups,
        sample_size=config.resolution,
    )


def build_text_encoder(config: UnetStageConfig, tokenizer) -> CLIPTextModel:
    """A freshly initialised CLIP text encoder sized by ``config`` for ``tokenizer``'s vocabulary."""
    from transformers import CLIPTextConfig, CLIPTextModel

    bos, eos = tokenizer.convert_tokens_to_ids([tokenizer.bos_token, tokenizer.eos_token])
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.text_hidden_size,
            intermediate_size=4 * config.text_hidden_size,
            num_attention_heads=config.text_heads,
            num_hidden_layers=config.text_layers,
            max_position_embeddings=tokenizer.model_max_length,
            projection_dim=config.text_hidden_size,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=eos,
        )
    )


def build_unet(config: UnetStageConfig, vae_factor: int) -> UNet2DConditionModel:
    """A freshly initialised 9-channel inpainting UNet: cross-attention in every block but the lowest."""
    from diffusers import UNet2DConditionModel

    n = len(config.block_out_channels)
    return UNet2DConditionModel(
        sample_size=config.resolution // vae_factor,
        in_channels=9,
        out_channels=4,
        layers_per_block=config.layers_per_block,
        block_out_channels=tuple(config.block_out_channels),
        down_block_types=("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1),
        cross_attention_dim=config.text_hidden_size,
        attention_head_dim=config.attention_head_dim,
        norm_num_groups=config.norm_num_groups,
    )


def training_scheduler() -> DDPMScheduler:
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SD_SCHEDULE, clip_sample=False)


def inference_scheduler() -> DDIMScheduler:
    from diffusers import DDIMScheduler

    return DDIMScheduler(**SD_SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
