"""Stage 1 of the base-model recipe: the ``AutoencoderKL``, L1 reconstruction plus a small KL."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from defect_core.configs import save_config
from defect_train.base_model.architecture import build_vae, resolve_device
from defect_train.base_model.config import VaeStageConfig
from defect_train.base_model.marks import add_random_marks
from defect_train.base_model.model_folders import save_pretrained_atomic
from defect_train.base_model.stage_loop import (
    StageResult,
    after_step,
    maybe_resume,
    new_state,
    optimiser_step,
)
from defect_train.base_model.texture_data import TextureCrops

logger = logging.getLogger(__name__)

VAE_FOLDER = "vae"


def texture_crops(config) -> TextureCrops:
    """The crops a stage config asks for (training split unless :meth:`TextureCrops.draw` says otherwise)."""
    return TextureCrops.from_surfaces(config.surfaces, config.resolution, config.crop_min_side,
                                      config.crop_max_side, config.held_out_fraction)


def reconstruction_l1(vae, images: torch.Tensor) -> float:
    """Mean absolute error of ``vae``'s reconstruction (posterior mode) of images (B, 3, H, W) in [-1, 1]."""
    with torch.no_grad():
        images = images.to(vae.device, vae.dtype)
        recon = vae.decode(vae.encode(images).latent_dist.mode()).sample
        return float((recon.float() - images.float()).abs().mean())


@torch.no_grad()
def latent_scaling_factor(vae, data: TextureCrops, batches: int, batch_size: int, seed: int) -> float:
    """``1 / std`` of sampled latents of training crops, as Stable Diffusion chose its 0.18215.

    Diffusion then runs on latents of unit variance, which the noise schedule assumes.
    """
    rng = np.random.default_rng([seed, 1])
    generator = torch.Generator("cpu").manual_seed(seed + 1)
    latents = []
    for _ in range(batches):
        images, _ = data.draw(rng, batch_size)
        latents.append(vae.encode(images.to(vae.device)).latent_dist.sample(generator=generator).float().cpu())
    return float(1.0 / torch.cat(latents).std())


def train_vae(config: VaeStageConfig) -> StageResult:
    """Train the VAE; write ``<output_dir>/vae`` (diffusers layout, with the fitted ``scaling_factor``)."""
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.toml")
    device = resolve_device(config.device)
    data = texture_crops(config)
    torch.manual_seed(config.seed)
    vae = build_vae(config).to(device).train()
    params = dict(vae.named_parameters())
    logger.info("VAE: %.2f M parameters, %d -> %d px latents", sum(p.numel() for p in params.values()) / 1e6,
                config.resolution, config.resolution // 2 ** (len(config.block_out_channels) - 1))
    state = new_state({f"vae.{n}": p for n, p in params.items()}, list(params.values()), config.learning_rate,
                      config.weight_decay, config.warmup_steps, config.seed)
    maybe_resume(run_dir, state, config.resume)
    result = StageResult(run_dir / VAE_FOLDER)
    with tqdm(total=config.steps, initial=state.step, desc="train-vae", unit="step") as bar:
        while state.step < config.steps:
            images = data.draw(state.rng, config.batch_size)[0]
            images = add_random_marks(images, state.rng, config.mark_probability).to(device)
            posterior = vae.encode(images).latent_dist
            recon = vae.decode(posterior.sample(generator=state.generator)).sample
            l1 = (recon - images).abs().mean()
            # kl() sums over the latent elements of a sample, as the LDM autoencoder's loss does
            loss = l1 + config.kl_weight * posterior.kl().mean()
            result.losses.append(optimiser_step(state, loss, list(params.values()), config.max_grad_norm, run_dir))
            state.step += 1
            bar.update(1)
            bar.set_postfix(l1=f"{float(l1.detach()):.4f}")
            if state.step % config.log_every == 0:
                logger.info("step %d: loss %.5f (L1 %.5f)", state.step, result.losses[-1], float(l1.detach()))
            after_step(run_dir, state, config.steps, config.checkpoint_every, config.keep_checkpoints)
    vae.eval()
    factor = latent_scaling_factor(vae, data, config.scaling_batches, config.batch_size, config.seed)
    vae.register_to_config(scaling_factor=factor)
    logger.info("latent scaling factor %.5f", factor)
    save_pretrained_atomic(vae, result.model_dir)
    return result
