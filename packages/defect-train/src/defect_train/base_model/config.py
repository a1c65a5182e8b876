"""Configs of the two training stages of the small base model (issue 7) and of its export.

Defaults are builtin:texture v2's recipe (issue 7's sketch plus issue 17's marks), measured on a 2-core CPU: a
0.95 M-parameter VAE (64 px -> 16x16x4, block channels 32/64/64), 1000 steps at batch 16; then a 9-channel
UNet (block channels 64/128/128) with cross-attention on a 2-layer CLIP text encoder, 1500 steps at batch 32;
half of the crops of both stages carry random marks (base_model.marks). Where the sketch is silent the
Stable Diffusion inpainting recipe decides: L1 + KL 1e-6 for the VAE (the LDM autoencoder's KL weight;
its LPIPS and GAN terms are left out at this size), 25 % whole-image masks, 10 % empty prompts, DDPM
scaled-linear betas 0.00085-0.012 with epsilon prediction, EMA of the UNet weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defect_core.builtin.surface_photos import SURFACE_PHOTOS
from defect_core.configs import coerce_paths, config_field, require


def _check_common(c: VaeStageConfig | UnetStageConfig) -> None:
    coerce_paths(c)
    unknown = [s for s in c.surfaces if s not in SURFACE_PHOTOS]
    require(c, bool(c.surfaces) and not unknown, "surfaces", f"must be among {sorted(SURFACE_PHOTOS)}")
    require(c, c.resolution >= 8, "resolution", "must be >= 8")
    require(
        c,
        1 <= c.crop_min_side <= c.crop_max_side,
        "crop_min_side",
        "need 1 <= crop_min_side <= crop_max_side",
    )
    require(c, 0.0 < c.held_out_fraction < 1.0, "held_out_fraction", "must be in (0, 1)")
    require(c, c.steps >= 1, "steps", "must be >= 1")
    require(c, c.batch_size >= 1, "batch_size", "must be >= 1")
    require(c, c.learning_rate > 0, "learning_rate", "must be > 0")
    require(c, c.warmup_steps >= 0, "warmup_steps", "must be >= 0")
    require(c, c.max_grad_norm > 0, "max_grad_norm", "must be > 0")
    require(c, c.checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0: only at the end)")
    require(c, c.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
    require(c, c.log_every >= 1, "log_every", "must be >= 1")
    require(c, c.preview_count >= 1, "preview_count", "must be >= 1")
    require(c, len(c.block_out_channels) >= 2, "block_out_channels", "needs at least two blocks")
    require(
        c,
        all(ch % c.norm_num_groups == 0 for ch in c.block_out_channels),
        "norm_num_groups",
        f"must divide every block width {c.block_out_channels}",
    )


@dataclass(frozen=True)
class VaeStageConfig:
    """Stage 1: an ``AutoencoderKL`` trained with L1 reconstruction (+ a small KL) on texture crops."""

    output_dir: Path = config_field(
        Path("runs/base-model/vae"),
        "stage folder: config.toml, checkpoints, loss.csv, "
        "loss.png, the trained vae/, reconstructions.png, "
        "manifest.json",
    )
    surfaces: tuple[str, ...] = config_field(("brick", "grass", "gravel"), "surface photographs to train on")
    resolution: int = config_field(64, "crop size in pixels (square)")
    crop_min_side: int = config_field(
        64, "smallest crop side taken from the photograph, in photograph pixels"
    )
    crop_max_side: int = config_field(
        320, "largest crop side taken from the photograph (the demo data views 192-320)"
    )
    held_out_fraction: float = config_field(
        0.25, "right fraction of every photograph's columns never used in training"
    )
    block_out_channels: tuple[int, ...] = config_field(
        (32, 64, 64), "VAE block widths; n blocks downsample by 2^(n-1)"
    )
    layers_per_block: int = config_field(1, "ResNet layers per VAE block")
    latent_channels: int = config_field(4, "latent channels (Stable Diffusion: 4)")
    norm_num_groups: int = config_field(32, "GroupNorm groups")
    steps: int = config_field(1000, "optimisation steps")
    batch_size: int = config_field(16, "crops per step")
    learning_rate: float = config_field(1e-3, "AdamW learning rate")
    warmup_steps: int = config_field(50, "linear learning-rate warm-up steps")
    weight_decay: float = config_field(0.0, "AdamW weight decay")
    max_grad_norm: float = config_field(1.0, "gradient-norm clipping")
    kl_weight: float = config_field(1e-6, "weight of the KL term (LDM autoencoder)")
    init_vae: Path | None = config_field(None, "start from this trained VAE folder instead of random weights")
    decoder_only: bool = config_field(
        False,
        "train the decoder only: the encoder of init_vae, hence its latent space and "
        "scaling factor, stay as they are, so a UNet trained on them stays valid (how "
        "Stable Diffusion's ft-MSE VAE was made)",
    )
    mark_probability: float = config_field(
        0.5,
        "share of crops that get random marks (base_model.marks): dark, light and coloured blobs, stains, "
        "strokes, speckles, so the VAE can represent dark, bright and saturated regions",
    )
    scaling_batches: int = config_field(
        4, "batches whose latent std sets vae.config.scaling_factor = 1 / std (as SD)"
    )
    seed: int = config_field(0, "seed of initialisation, crops and latent sampling")
    checkpoint_every: int = config_field(
        200, "write a resumable checkpoint every N steps (0: only at the end)"
    )
    keep_checkpoints: int = config_field(2, "how many checkpoints to keep")
    resume: bool = config_field(False, "continue from the newest checkpoint in output_dir")
    log_every: int = config_field(50, "log the loss and rewrite loss.csv every N steps")
    preview_count: int = config_field(6, "held-out crops shown in reconstructions.png")
    eval_crops: int = config_field(
        96, "held-out crops whose mean reconstruction L1 manifest.json reports (the model card's 96)"
    )
    device: str = config_field("auto", "device: auto, cpu, cuda, cuda:1, ...")

    def __post_init__(self) -> None:
        _check_common(self)
        require(self, self.eval_crops >= self.preview_count, "eval_crops", "must be >= preview_count")
        require(self, self.kl_weight >= 0, "kl_weight", "must be >= 0")
        require(self, 0.0 <= self.mark_probability <= 1.0, "mark_probability", "must be in [0, 1]")
        require(self, not self.decoder_only or self.init_vae is not None, "decoder_only", "needs init_vae")
        require(self, self.scaling_batches >= 1, "scaling_batches", "must be >= 1")
        factor = 2 ** (len(self.block_out_channels) - 1)
        require(self, self.resolution % factor == 0, "resolution", f"must be a multiple of {factor}")


@dataclass(frozen=True)
class UnetStageConfig:
    """Stage 2: the 9-channel inpainting UNet and a small CLIP text encoder, on latents of the stage-1 VAE."""

    vae_dir: Path = config_field(
        Path("runs/base-model/vae/vae"), "the trained VAE folder written by train-vae"
    )
    output_dir: Path = config_field(
        Path("runs/base-model/unet"),
        "stage folder: config.toml, checkpoints, loss.csv, "
        "loss.png, unet/, unet_ema/, text_encoder/, tokenizer/, "
        "fills.png, manifest.json",
    )
    surfaces: tuple[str, ...] = config_field(("brick", "grass", "gravel"), "surface photographs to train on")
    resolution: int = config_field(64, "crop size in pixels (square)")
    crop_min_side: int = config_field(
        64, "smallest crop side taken from the photograph, in photograph pixels"
    )
    crop_max_side: int = config_field(
        320, "largest crop side taken from the photograph (the demo data views 192-320)"
    )
    held_out_fraction: float = config_field(
        0.25, "right fraction of every photograph's columns never used in training"
    )
    block_out_channels: tuple[int, ...] = config_field((64, 128, 128), "UNet block widths")
    layers_per_block: int = config_field(1, "ResNet + attention layers per UNet block")
    attention_head_dim: int = config_field(8, "UNet attention head width")
    norm_num_groups: int = config_field(32, "GroupNorm groups")
    text_hidden_size: int = config_field(
        128, "CLIP text encoder width (also the UNet's cross-attention width)"
    )
    text_layers: int = config_field(2, "CLIP text encoder layers")
    text_heads: int = config_field(4, "CLIP text encoder attention heads")
    prompt_template: str = config_field("a photo of {surface}", "prompt naming the surface of a crop")
    empty_prompt_prob: float = config_field(
        0.1, "fraction of empty prompts (so classifier-free guidance works)"
    )
    mark_probability: float = config_field(
        0.5,
        "share of crops that get random marks (base_model.marks): dark, light and coloured blobs, stains, "
        "strokes, speckles, so that the UNet has seen such regions as SD has (builtin:texture v2: 0.5)",
    )
    mark_caption: str = config_field(
        " with marks", "appended to the prompt of a crop that got marks, so the prompt says what is there"
    )
    mark_mask_prob: float = config_field(
        0.3,
        "share of marked crops whose inpainting mask is their marks' region (dilated) instead of a random "
        "mask, so that filling a masked region with a mark is part of the task",
    )
    mask_full_prob: float = config_field(0.25, "fraction of whole-image masks (SD inpainting: 0.25)")
    mask_stroke_prob: float = config_field(0.4, "fraction of free-form stroke masks (the rest are boxes)")
    steps: int = config_field(1500, "optimisation steps")
    batch_size: int = config_field(32, "crops per step")
    learning_rate: float = config_field(5e-4, "AdamW learning rate of the UNet and the text encoder")
    warmup_steps: int = config_field(100, "linear learning-rate warm-up steps")
    weight_decay: float = config_field(1e-2, "AdamW weight decay")
    max_grad_norm: float = config_field(1.0, "gradient-norm clipping")
    ema_decay: float = config_field(
        0.999, "EMA decay of the UNet weights; step t uses min(decay, (1 + t) / (10 + t))"
    )
    seed: int = config_field(0, "seed of initialisation, crops, masks, prompts, noise and timesteps")
    checkpoint_every: int = config_field(
        250, "write a resumable checkpoint every N steps (0: only at the end)"
    )
    keep_checkpoints: int = config_field(2, "how many checkpoints to keep")
    resume: bool = config_field(False, "continue from the newest checkpoint in output_dir")
    log_every: int = config_field(50, "log the loss and rewrite loss.csv every N steps")
    preview_count: int = config_field(6, "held-out crops filled in fills.png")
    preview_steps: int = config_field(50, "DDIM steps of the fills in fills.png (the model card's 50)")
    device: str = config_field("auto", "device: auto, cpu, cuda, cuda:1, ...")

    def __post_init__(self) -> None:
        _check_common(self)
        require(self, self.preview_steps >= 1, "preview_steps", "must be >= 1")
        require(self, "{surface}" in self.prompt_template, "prompt_template", "must contain {surface}")
        require(self, 0.0 <= self.empty_prompt_prob <= 1.0, "empty_prompt_prob", "must be in [0, 1]")
        require(self, 0.0 <= self.mask_full_prob <= 1.0, "mask_full_prob", "must be in [0, 1]")
        require(self, 0.0 <= self.mark_probability <= 1.0, "mark_probability", "must be in [0, 1]")
        require(self, 0.0 <= self.mark_mask_prob <= 1.0, "mark_mask_prob", "must be in [0, 1]")
        require(
            self,
            0.0 <= self.mask_stroke_prob <= 1.0 - self.mask_full_prob,
            "mask_stroke_prob",
            "must be in [0, 1 - mask_full_prob]",
        )
        require(self, 0.0 <= self.ema_decay < 1.0, "ema_decay", "must be in [0, 1)")
        require(
            self, self.text_hidden_size % self.text_heads == 0, "text_heads", "must divide text_hidden_size"
        )
        require(
            self,
            self.block_out_channels[0] % self.attention_head_dim == 0,
            "attention_head_dim",
            "must divide the block widths",
        )


@dataclass(frozen=True)
class ExportConfig:
    """Assemble the two stages into a diffusers ``StableDiffusionInpaintPipeline`` folder."""

    vae_dir: Path = config_field(
        Path("runs/base-model/vae/vae"), "the trained VAE folder written by train-vae"
    )
    unet_dir: Path = config_field(Path("runs/base-model/unet"), "the output_dir of train-unet")
    output: Path = config_field(
        Path("runs/base-model/pipeline"), "pipeline folder to write (replaced if it exists)"
    )
    dtype: Literal["fp16", "fp32"] = config_field("fp16", "dtype of the saved weights")
    use_ema: bool = config_field(True, "export the EMA weights of the UNet (else the raw weights)")

    def __post_init__(self) -> None:
        coerce_paths(self)
        require(self, self.dtype in ("fp16", "fp32"), "dtype", "must be fp16 or fp32")
