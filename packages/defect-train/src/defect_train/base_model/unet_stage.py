"""Stage 2 of the base-model recipe: the 9-channel inpainting UNet and its CLIP text encoder.

Stable Diffusion's inpainting recipe on the frozen stage-1 VAE: a random mask per crop (boxes, strokes,
25 % the whole image), the masked image ``I * (M < 0.5)`` and the mask go in beside x_t in diffusers'
order ``[x_t, mask, masked-image latent]`` (built by :mod:`defect_sample.conditioning`, the helpers the
sampler and the DefectFill trainer use), the prompt names the surface ("a photo of brick") or is empty
(10 %), the UNet predicts ε under SD's scaled-linear DDPM schedule, and an EMA of the UNet weights is kept.
Unlike SD, whose CLIP encoder is pretrained and frozen, the small text encoder learns here with the UNet.

The stage folder receives ``config.toml``, ``checkpoints/``, ``loss.csv`` / ``loss.png`` (loss and
learning rate per step), the model folders, ``fills.png`` (held-out crops | hole | fill by the EMA UNet)
and ``manifest.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from defect_core.configs import save_config
from defect_core.errors import InputFileError
from defect_sample.conditioning import (
    encode_latents,
    encode_prompt_ids,
    latent_mask,
    masked_image,
    prediction_target,
    tensor_to_pil,
    tokenize,
    unet_input,
    vae_scale_factor,
)
from defect_sample.devices import resolve_device
from defect_sample.sampler import DefectFillSampler
from defect_sample.tiny_model import write_tiny_tokenizer_files
from defect_train.base_model.architecture import (
    build_text_encoder,
    build_unet,
    inference_scheduler,
    training_scheduler,
)
from defect_train.base_model.config import UnetStageConfig
from defect_train.base_model.ema import EmaWeights
from defect_train.base_model.inpainting_masks import inpainting_mask_batch
from defect_train.base_model.marks import add_random_marks
from defect_train.base_model.model_folders import save_pretrained_atomic, write_folder_atomic
from defect_train.base_model.stage_loop import (
    StageProgress,
    StageResult,
    maybe_resume,
    new_state,
    optimiser_step,
)
from defect_train.base_model.stage_outputs import finish_stage, parameter_count
from defect_train.base_model.stage_pictures import FILLS, fill_holes, held_out_crops, hole_mask, write_fills
from defect_train.base_model.vae_stage import texture_crops

if TYPE_CHECKING:
    from diffusers import AutoencoderKL


logger = logging.getLogger(__name__)

UNET_FOLDER, EMA_UNET_FOLDER, TEXT_ENCODER_FOLDER, TOKENIZER_FOLDER = (
    "unet",
    "unet_ema",
    "text_encoder",
    "tokenizer",
)


def load_trained_vae(folder: Path, device: torch.device) -> AutoencoderKL:
    """The stage-1 VAE, frozen, in eval mode; a missing folder is an error naming it."""
    from diffusers import AutoencoderKL

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise InputFileError(folder, "is not a trained VAE folder (no config.json); run train-vae first")
    vae = AutoencoderKL.from_pretrained(folder).to(device).eval()
    vae.requires_grad_(False)
    return vae


def train_unet(config: UnetStageConfig) -> StageResult:
    """Train the UNet and text encoder; write ``unet/``, ``unet_ema/``, ``text_encoder/`` and ``tokenizer/``
    into ``output_dir``. ``StageResult.model_dir`` is ``output_dir``."""
    from transformers import CLIPTokenizer

    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.toml")
    device = resolve_device(config.device)
    vae = load_trained_vae(config.vae_dir, device)
    factor = vae_scale_factor(vae)
    if config.resolution % factor:
        raise ValueError(
            f"UnetStageConfig.resolution={config.resolution}: must be a multiple of the VAE's "
            f"factor {factor} ({config.vae_dir})"
        )
    write_folder_atomic(run_dir / TOKENIZER_FOLDER, write_tiny_tokenizer_files)
    tokenizer = CLIPTokenizer.from_pretrained(run_dir / TOKENIZER_FOLDER)
    data = texture_crops(config)
    torch.manual_seed(config.seed)
    text_encoder = build_text_encoder(config, tokenizer).to(device).train()
    unet = build_unet(config, factor).to(device).train()
    ema = EmaWeights(unet, config.ema_decay)
    params = {
        **{f"unet.{n}": p for n, p in unet.named_parameters()},
        **{f"text_encoder.{n}": p for n, p in text_encoder.named_parameters()},
    }
    logger.info(
        "UNet %.2f M, text encoder %.2f M parameters",
        parameter_count(unet) / 1e6,
        parameter_count(text_encoder) / 1e6,
    )
    trainable = list(params.values())
    state = new_state(
        {**params, **{f"ema.{n}": t for n, t in ema.shadow.items()}},
        trainable,
        config.learning_rate,
        config.weight_decay,
        config.warmup_steps,
        config.seed,
    )
    maybe_resume(run_dir, state, config.resume)
    noise_scheduler = training_scheduler()
    with StageProgress("train-unet", run_dir, state, config, parts=(), plotted=("loss",)) as progress:
        while state.step < config.steps:
            loss = _inpainting_loss(
                config, state, data, vae, unet, text_encoder, tokenizer, noise_scheduler, device
            )
            value = optimiser_step(state, loss, trainable, config.max_grad_norm, run_dir)
            ema.update(unet, state.step)
            progress.step_done(value, {})
    unet.eval()
    text_encoder.eval()
    save_pretrained_atomic(unet, run_dir / UNET_FOLDER)
    save_pretrained_atomic(text_encoder, run_dir / TEXT_ENCODER_FOLDER)
    ema.copy_to(unet)
    save_pretrained_atomic(unet, run_dir / EMA_UNET_FOLDER)
    picture = _write_fills_picture(config, data, vae, unet, text_encoder, tokenizer, run_dir / FILLS)
    finish_stage(
        progress,
        "unet",
        run_dir,
        {"unet": parameter_count(unet), "text_encoder": parameter_count(text_encoder)},
        picture,
        device,
        {
            "vae_dir": str(Path(config.vae_dir).resolve()),
            "fills": {
                "weights": EMA_UNET_FOLDER,
                "prompt": config.prompt_template,
                "ddim_steps": config.preview_steps,
                "crops": config.preview_count,
            },
        },
    )
    return StageResult(run_dir, progress.losses)


def _write_fills_picture(
    config: UnetStageConfig, data, vae, unet, text_encoder, tokenizer, path: Path
) -> Path:
    """``fills.png`` of held-out crops with the modules as they are (the caller has loaded the EMA weights)."""
    crops, surfaces = held_out_crops(data, config.preview_count, config.seed)
    images, mask = tensor_to_pil(crops), hole_mask(config.resolution)
    sampler = DefectFillSampler(vae, text_encoder, tokenizer, unet, inference_scheduler())
    fills = fill_holes(
        sampler, images, surfaces, mask, config.prompt_template, config.preview_steps, config.seed
    )
    return write_fills(images, mask, fills, path)


def _mark_masks_and_captions(
    config: UnetStageConfig,
    rng: np.random.Generator,
    coverage: torch.Tensor,
    masks: torch.Tensor,
    captions: list[str],
) -> tuple[torch.Tensor, list[str]]:
    """Marked crops get ``mark_caption`` and, with ``mark_mask_prob``, their marks' region (coverage > 0.2,
    dilated by 2 px) as the mask; ``coverage`` and ``masks`` are (B, 1, H, W), masks 0 / 1."""
    marked = coverage.flatten(1).amax(1) > 0
    region = F.max_pool2d((coverage > 0.2).float(), kernel_size=5, stride=1, padding=2)
    masks = masks.clone()
    captions = list(captions)
    for i in range(len(captions)):
        if not marked[i]:
            continue
        captions[i] += config.mark_caption
        if rng.random() < config.mark_mask_prob and region[i].any():
            masks[i] = region[i].to(masks)
    return masks, captions


def _inpainting_loss(
    config: UnetStageConfig,
    state,
    data,
    vae,
    unet,
    text_encoder,
    tokenizer,
    noise_scheduler,
    device: torch.device,
) -> torch.Tensor:
    """One batch of the SD inpainting objective: ``mean((ε − ε_θ([x_t, m, E(I·(M<0.5))], t, c))²)``."""
    images, surfaces = data.draw(state.rng, config.batch_size)
    masks = inpainting_mask_batch(
        config.batch_size, config.resolution, state.rng, config.mask_full_prob, config.mask_stroke_prob
    )
    captions = [config.prompt_template.format(surface=s) for s in surfaces]
    if config.mark_probability > 0:
        images, coverage = add_random_marks(images, state.rng, config.mark_probability)
        masks, captions = _mark_masks_and_captions(config, state.rng, coverage, masks, captions)
    prompts = ["" if state.rng.random() < config.empty_prompt_prob else c for c in captions]
    images, masks = images.to(device), masks.to(device)
    latents = encode_latents(vae, images, generator=state.generator)
    background = encode_latents(vae, masked_image(images, masks), generator=state.generator)
    mask_cells = latent_mask(masks, tuple(latents.shape[-2:]))
    # noise and timesteps come from the CPU generator so that a resumed run draws the same numbers
    noise = torch.randn(latents.shape, generator=state.generator).to(device)
    timesteps = torch.randint(
        0, noise_scheduler.config.num_train_timesteps, (config.batch_size,), generator=state.generator
    ).to(device)
    x_t = noise_scheduler.add_noise(latents, noise, timesteps)
    embeddings = encode_prompt_ids(text_encoder, tokenize(tokenizer, prompts))
    pred = unet(unet_input(x_t, mask_cells, background), timesteps, encoder_hidden_states=embeddings).sample
    return F.mse_loss(pred.float(), prediction_target(noise_scheduler, latents, noise, timesteps).float())
