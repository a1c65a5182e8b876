"""Stage 1 of the base-model recipe: the ``AutoencoderKL``, L1 reconstruction plus a small KL.

The stage folder receives ``config.toml``, ``checkpoints/``, ``loss.csv`` / ``loss.png`` (loss, L1, KL,
learning rate per step), the trained ``vae/``, ``reconstructions.png`` (held-out crops | reconstructions)
and ``manifest.json`` (with the mean reconstruction L1 of ``eval_crops`` held-out crops).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from defect_core.configs import save_config
from defect_sample.devices import resolve_device
from defect_train.base_model.architecture import build_vae
from defect_train.base_model.config import VaeStageConfig
from defect_train.base_model.marks import add_random_marks
from defect_train.base_model.model_folders import save_pretrained_atomic
from defect_train.base_model.stage_loop import (
    StageProgress,
    StageResult,
    maybe_resume,
    new_state,
    optimiser_step,
)
from defect_train.base_model.stage_outputs import finish_stage, parameter_count
from defect_train.base_model.stage_pictures import RECONSTRUCTIONS, held_out_crops, write_reconstructions
from defect_train.base_model.texture_data import TextureCrops

if TYPE_CHECKING:
    from diffusers import AutoencoderKL


logger = logging.getLogger(__name__)

VAE_FOLDER = "vae"


def load_vae(folder: Path) -> AutoencoderKL:
    """A trained VAE folder (diffusers layout), in float32 whatever dtype it was saved in."""
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_pretrained(folder, torch_dtype=torch.float32)


def texture_crops(config) -> TextureCrops:
    """The crops a stage config asks for (training split unless :meth:`TextureCrops.draw` says otherwise)."""
    return TextureCrops.from_surfaces(
        config.surfaces,
        config.resolution,
        config.crop_min_side,
        config.crop_max_side,
        config.held_out_fraction,
    )


@torch.no_grad()
def reconstruct(vae, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """``vae``'s reconstructions (decoded posterior mode) of images (B, 3, H, W) in [-1, 1], in chunks of
    ``batch_size``: float32 (B, 3, H, W) on the CPU (not clamped)."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start : start + batch_size].to(vae.device, vae.dtype)
        out.append(vae.decode(vae.encode(chunk).latent_dist.mode()).sample.float().cpu())
    return torch.cat(out)


def reconstruction_l1(vae, images: torch.Tensor) -> float:
    """Mean absolute error of ``vae``'s reconstruction (posterior mode) of images (B, 3, H, W) in [-1, 1]."""
    return float((reconstruct(vae, images) - images.float().cpu()).abs().mean())


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
        latents.append(
            vae.encode(images.to(vae.device)).latent_dist.sample(generator=generator).float().cpu()
        )
    return float(1.0 / torch.cat(latents).std())


def train_vae(config: VaeStageConfig) -> StageResult:
    """Train the VAE; write ``<output_dir>/vae`` (diffusers layout, with the fitted ``scaling_factor``)."""
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.toml")
    device = resolve_device(config.device)
    data = texture_crops(config)
    torch.manual_seed(config.seed)
    vae = (build_vae(config) if config.init_vae is None else load_vae(config.init_vae)).to(device).train()
    if config.decoder_only:
        vae.encoder.requires_grad_(False)
        vae.quant_conv.requires_grad_(False)
    params = {n: p for n, p in vae.named_parameters() if p.requires_grad}
    logger.info(
        "VAE: %.2f M parameters, %d -> %d px latents",
        parameter_count(vae) / 1e6,
        config.resolution,
        config.resolution // 2 ** (len(config.block_out_channels) - 1),
    )
    state = new_state(
        {f"vae.{n}": p for n, p in params.items()},
        list(params.values()),
        config.learning_rate,
        config.weight_decay,
        config.warmup_steps,
        config.seed,
    )
    maybe_resume(run_dir, state, config.resume)
    with StageProgress(
        "train-vae", run_dir, state, config, parts=("l1", "kl"), plotted=("loss", "l1")
    ) as progress:
        while state.step < config.steps:
            images = data.draw(state.rng, config.batch_size)[0]
            images = add_random_marks(images, state.rng, config.mark_probability)[0].to(device)
            with torch.set_grad_enabled(not config.decoder_only):
                posterior = vae.encode(images).latent_dist
            recon = vae.decode(posterior.sample(generator=state.generator)).sample
            l1 = (recon - images).abs().mean()
            # kl() sums over the latent elements of a sample, as the LDM autoencoder's loss does
            kl = posterior.kl().mean()
            loss = l1 + config.kl_weight * kl
            value = optimiser_step(state, loss, list(params.values()), config.max_grad_norm, run_dir)
            progress.step_done(value, {"l1": float(l1.detach()), "kl": float(kl.detach())})
    vae.eval()
    if config.decoder_only:  # the latents are those of init_vae: its scaling factor still holds
        factor = float(vae.config.scaling_factor)
    else:
        factor = latent_scaling_factor(vae, data, config.scaling_batches, config.batch_size, config.seed)
        vae.register_to_config(scaling_factor=factor)
    logger.info("latent scaling factor %.5f", factor)
    model_dir = save_pretrained_atomic(vae, run_dir / VAE_FOLDER)
    crops, _ = held_out_crops(data, config.eval_crops, config.seed)
    reconstructions = reconstruct(vae, crops, config.batch_size)
    held_out_l1 = float((reconstructions - crops).abs().mean())
    logger.info("held-out reconstruction L1 %.5f (%d crops)", held_out_l1, config.eval_crops)
    picture = write_reconstructions(
        crops[: config.preview_count], reconstructions[: config.preview_count], run_dir / RECONSTRUCTIONS
    )
    finish_stage(
        progress,
        "vae",
        model_dir,
        {"vae": parameter_count(vae)},
        picture,
        device,
        {
            "held_out_reconstruction_l1": held_out_l1,
            "held_out_crops": config.eval_crops,
            "latent_scaling_factor": factor,
        },
    )
    return StageResult(model_dir, progress.losses)
