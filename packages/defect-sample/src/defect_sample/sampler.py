"""The DefectFill sampler: DDIM inpainting with background latent replacement, all candidates batched, on
Stable Diffusion 1 / 2 or SDXL inpainting models.

Conditioning (text embeddings, masked-image latents, the latent mask, the background latents) is computed
once per (image, mask) item and shared by all of its candidates; candidates of all items are denoised
together, ``batch_size`` rows at a time. Each item owns a CPU ``torch.Generator`` seeded with its seed, so
an item's result depends on its seed alone, not on the batch size, the other items of the call or the
device count.

With ``background_replacement=False`` and no LoRA the result equals diffusers'
``StableDiffusionInpaintPipeline`` (``StableDiffusionXLInpaintPipeline`` for an SDXL model) called with the
same prompt, steps, guidance, ``strength``, ``num_images_per_prompt`` = ``num_candidates`` and
``generator=torch.Generator().manual_seed(seed)``, with the pipeline's scheduler replaced by DDIM (or, with
``scheduler="model"``, left as loaded), on a mask aligned to the latent grid: the generator is consumed in the
same order (the image's latent sample when strength < 1, the initial noise, then the masked image's latent
sample). ``tests/sample/test_sampler_equivalence.py`` and ``test_sdxl_equivalence.py`` pin this.

SDXL adds, per row, the pooled embedding of the second text encoder and six size / crop numbers
(:mod:`defect_sample.sdxl_size_conditioning`); the latent-space method (9-channel input, background
replacement, LFS) is the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from defect_sample.conditioning import (
    latent_mask,
    masked_image,
    masks_to_tensor,
    pil_to_tensor,
    tensor_to_pil,
    unet_input,
    vae_scale_factor,
)
from defect_sample.denoising_schedule import (
    SCHEDULER_KINDS,
    check_strength,
    create_scheduler,
    denoising_timesteps,
)
from defect_sample.prompt_embeddings import PromptEmbeddings, encode_sd_prompt, encode_sdxl_prompt
from defect_sample.sdxl_size_conditioning import check_time_embedding, sdxl_time_ids

logger = logging.getLogger(__name__)

DEFAULT_GUIDANCE_SCALE = 1.0
"""Guidance with a concept: 1.0 (no classifier-free guidance) is our assumption, not the paper's statement:
DefectFill does not give its guidance scale; 1.0 is RealFill's inference script's (DefectFill builds on
RealFill), and the concept is in the LoRA, not in a contrast with an unconditional prompt. diffusers'
inpainting pipeline, the "widely adopted" pipeline the paper samples with, defaults to 7.5 (the
``defectfill-guidance`` row of ``defect-inspect experiment``). Zero-shot (DIAG) mode uses 20."""

DEFAULT_STEPS = 50
"""DDIM steps of DefectFill (DESIGN.md §4)."""


@dataclass
class SamplerOutput:
    """What :class:`DefectFillSampler` returns.

    - ``images[i][k]``: candidate ``k`` of input item ``i``, PIL RGB at the input size;
    - ``latents[i]``: the final latents of item ``i``, float32 (K, C, h, w) on the CPU, scaled by
      ``vae.config.scaling_factor`` (what the VAE decoded).
    """

    images: list[list[Image.Image]]
    latents: list[torch.Tensor]


@dataclass
class _ItemConditioning:
    """Per-item tensors shared by all candidates (on the UNet's device and dtype)."""

    mask: torch.Tensor  # (1, 1, h, w) latent mask, 1 = region to fill
    masked_latent: torch.Tensor  # (1, C, h, w)
    background: torch.Tensor | None  # (1, C, h, w) latent of the normal image, None without replacement
    noise: torch.Tensor  # (K, C, h, w) initial noise of the candidates
    image_latent: torch.Tensor | None = None  # (1, C, h, w) sampled image latent, strength < 1 only


def _module_device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _module_dtype(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def item_seeds(seed: int | Sequence[int], n_items: int) -> list[int]:
    """Seeds of ``n_items`` items: a list is used as is; an int ``s`` gives ``s, s + 1, …``."""
    if isinstance(seed, int | np.integer):
        return [int(seed) + i for i in range(n_items)]
    seeds = [int(s) for s in seed]
    if len(seeds) != n_items:
        raise ValueError(f"seed: got {len(seeds)} seeds for {n_items} images")
    return seeds


class DefectFillSampler:
    """DDIM sampler over the components of a Stable Diffusion or SDXL inpainting model (9-channel UNet).

    The components are used as they are, so a peft-wrapped UNet or text encoder (training previews) or
    one with diffusers-loaded adapters (concepts) works alike. The scheduler's config (betas, prediction
    type, timestep spacing) is kept, its class replaced by DDIM (``scheduler="model"`` in a call keeps its
    class too). ``text_encoder_2`` / ``tokenizer_2`` make it an SDXL sampler; ``force_zeros_for_empty_prompt``
    and ``requires_aesthetics_score`` are the SDXL pipeline's config flags of the same names.
    """

    def __init__(
        self,
        vae,
        text_encoder,
        tokenizer,
        unet,
        scheduler,
        *,
        text_encoder_2=None,
        tokenizer_2=None,
        force_zeros_for_empty_prompt: bool = True,
        requires_aesthetics_score: bool = False,
    ) -> None:
        if (text_encoder_2 is None) != (tokenizer_2 is None):
            raise ValueError("an SDXL sampler needs both text_encoder_2 and tokenizer_2")
        self.vae = vae
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.unet = unet
        self.text_encoder_2 = text_encoder_2
        self.tokenizer_2 = tokenizer_2
        self.force_zeros_for_empty_prompt = force_zeros_for_empty_prompt
        self.requires_aesthetics_score = requires_aesthetics_score
        self.schedulers = {kind: create_scheduler(kind, scheduler) for kind in SCHEDULER_KINDS}
        self.scheduler = self.schedulers["ddim"]
        if self.is_sdxl:
            check_time_embedding(unet, text_encoder_2, requires_aesthetics_score)

    @classmethod
    def from_pipeline(cls, pipe) -> DefectFillSampler:
        """The sampler over a diffusers inpainting pipeline's components (shared, not copied): a
        ``StableDiffusionInpaintPipeline`` or a ``StableDiffusionXLInpaintPipeline``."""
        config = pipe.config
        return cls(
            pipe.vae,
            pipe.text_encoder,
            pipe.tokenizer,
            pipe.unet,
            pipe.scheduler,
            text_encoder_2=getattr(pipe, "text_encoder_2", None),
            tokenizer_2=getattr(pipe, "tokenizer_2", None),
            force_zeros_for_empty_prompt=bool(config.get("force_zeros_for_empty_prompt", True)),
            requires_aesthetics_score=bool(config.get("requires_aesthetics_score", False)),
        )

    @property
    def is_sdxl(self) -> bool:
        return self.text_encoder_2 is not None

    @property
    def device(self) -> torch.device:
        return _module_device(self.unet)

    @property
    def dtype(self) -> torch.dtype:
        return _module_dtype(self.unet)

    # -- conditioning, computed once per call / item -----------------------------------------------------

    @torch.no_grad()
    def encode_prompt(self, prompt: str, negative_prompt: str | None, guidance: bool) -> PromptEmbeddings:
        """Text conditioning: hidden states (1, L, D), or (2, L, D) = [negative, prompt] when ``guidance`` is
        on, plus SDXL's pooled embedding (N, P).

        A missing negative prompt is the empty string (SDXL: zeros, when the model says so), as in diffusers.
        """
        if self.is_sdxl:
            embeds = encode_sdxl_prompt(
                (self.tokenizer, self.tokenizer_2),
                (self.text_encoder, self.text_encoder_2),
                prompt,
                negative_prompt,
                guidance,
                zeros_for_missing_negative=self.force_zeros_for_empty_prompt,
            )
        else:
            embeds = encode_sd_prompt(self.tokenizer, self.text_encoder, prompt, negative_prompt, guidance)
        return embeds.to(self.device, self.dtype)

    @torch.no_grad()
    def _encode_distribution(
        self, images: torch.Tensor, batch_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE posterior mean and std (B, C, h, w) of images (B, 3, H, W) in [-1, 1], in chunks."""
        means, stds = [], []
        for start in range(0, images.shape[0], batch_size):
            chunk = images[start : start + batch_size].to(self.vae.device, self.vae.dtype)
            dist = self.vae.encode(chunk).latent_dist
            means.append(dist.mean)
            stds.append(dist.std)
        return torch.cat(means), torch.cat(stds)

    def _prepare_items(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        seeds: list[int],
        num_candidates: int,
        batch_size: int,
        background_replacement: bool,
        latents: torch.Tensor | None,
        strength: float = 1.0,
    ) -> list[_ItemConditioning]:
        scale = self.vae.config.scaling_factor
        latent_hw = (
            images.shape[-2] // vae_scale_factor(self.vae),
            images.shape[-1] // vae_scale_factor(self.vae),
        )
        channels = self.vae.config.latent_channels
        mask_latents = latent_mask(masks, latent_hw)
        masked_mean, masked_std = self._encode_distribution(masked_image(images, masks), batch_size)
        from_image = strength < 1.0  # diffusers starts from the noised image latent exactly when s != 1
        background = image_mean = image_std = None
        if background_replacement or from_image:
            image_mean, image_std = self._encode_distribution(images, batch_size)
        if background_replacement:
            # the posterior mode: the background the decoder reproduces best, and no extra draw from the
            # item's generator (so switching replacement off leaves the noise stream untouched)
            background = image_mean * scale
        items = []
        for i, seed in enumerate(seeds):
            generator = torch.Generator(device="cpu").manual_seed(seed)
            # order of draws = the stock inpainting pipelines': the image's latent sample (strength < 1),
            # the initial noise, then the masked-image sample
            image_latent = None
            if from_image:
                eps = torch.randn((1, channels, *latent_hw), generator=generator, dtype=image_mean.dtype)
                image_latent = (
                    image_mean[i : i + 1] + image_std[i : i + 1] * eps.to(image_mean.device)
                ) * scale
            shape = (num_candidates, channels, *latent_hw)
            if latents is not None:
                noise = latents[i * num_candidates : (i + 1) * num_candidates].to(torch.float32).cpu()
            else:
                noise = torch.randn(shape, generator=generator, dtype=self.dtype)
            eps = torch.randn((1, channels, *latent_hw), generator=generator, dtype=masked_mean.dtype)
            masked_latent = (
                masked_mean[i : i + 1] + masked_std[i : i + 1] * eps.to(masked_mean.device)
            ) * scale
            items.append(
                _ItemConditioning(
                    mask=mask_latents[i : i + 1].to(self.device, self.dtype),
                    masked_latent=masked_latent.to(self.device, self.dtype),
                    background=None
                    if background is None
                    else background[i : i + 1].to(self.device, self.dtype),
                    noise=noise.to(self.device, self.dtype),
                    image_latent=None if image_latent is None else image_latent.to(self.device, self.dtype),
                )
            )
        return items

    # -- denoising -----------------------------------------------------------------------------------------

    @staticmethod
    def _replace_background(
        scheduler,
        latents: torch.Tensor,
        mask: torch.Tensor,
        background: torch.Tensor,
        noise: torch.Tensor,
        timestep: torch.Tensor | None,
    ) -> torch.Tensor:
        """Outside the mask, the background latent noised to ``timestep`` (``None``: clean)."""
        level = (
            background if timestep is None else scheduler.add_noise(background, noise, timestep.reshape(1))
        )
        return mask * latents + (1 - mask) * level

    def _added_conditioning(
        self, embeds: PromptEmbeddings, rows: int, latent_hw: tuple[int, int]
    ) -> dict[str, torch.Tensor] | None:
        """SDXL's ``added_cond_kwargs`` for ``rows`` rows ([negative × rows, prompt × rows] when guided)."""
        if embeds.pooled is None:
            return None
        factor = vae_scale_factor(self.vae)
        time_ids = sdxl_time_ids(
            (latent_hw[0] * factor, latent_hw[1] * factor),
            requires_aesthetics_score=self.requires_aesthetics_score,
            guided=embeds.guided,
            dtype=embeds.hidden.dtype,
        ).to(self.device)
        return {
            "text_embeds": embeds.pooled.repeat_interleave(rows, dim=0),
            "time_ids": time_ids.repeat_interleave(rows, dim=0),
        }

    @torch.no_grad()
    def denoise(
        self,
        noise: torch.Tensor,
        mask: torch.Tensor,
        masked_latent: torch.Tensor,
        embeds: PromptEmbeddings,
        background: torch.Tensor | None,
        num_inference_steps: int,
        guidance_scale: float,
        *,
        strength: float = 1.0,
        image_latent: torch.Tensor | None = None,
        scheduler: str = "ddim",
    ) -> torch.Tensor:
        """Denoise one batch of rows; returns the final latents (B, C, h, w).

        ``noise``, ``mask`` (B, 1, h, w), ``masked_latent``, ``background`` (or ``None``: no replacement)
        and ``image_latent`` (needed when ``strength`` < 1: the start is it, noised to the first step run)
        are per row; ``embeds`` holds (1, L, D) or, with guidance, (2, L, D) = [negative, prompt].
        """
        sched = self.schedulers[scheduler]
        check_strength(num_inference_steps, strength)
        timesteps = denoising_timesteps(sched, num_inference_steps, strength, self.device)
        rows = noise.shape[0]
        guided = embeds.guided
        text = embeds.hidden.repeat_interleave(rows, dim=0)  # [negative × B, prompt × B] as diffusers orders
        added = self._added_conditioning(embeds, rows, tuple(noise.shape[-2:]))
        cond_mask = torch.cat([mask, mask]) if guided else mask
        cond_masked = torch.cat([masked_latent, masked_latent]) if guided else masked_latent
        if strength == 1.0:
            latents = noise * sched.init_noise_sigma
        else:
            if image_latent is None:
                raise ValueError("strength < 1 starts from the image latent: pass image_latent")
            latents = sched.add_noise(image_latent, noise, timesteps[:1].repeat(rows))
        if background is not None:
            latents = self._replace_background(sched, latents, mask, background, noise, timesteps[0])
        extra = {} if added is None else {"added_cond_kwargs": added}
        for i, t in enumerate(timesteps):
            model_in = torch.cat([latents, latents]) if guided else latents
            model_in = sched.scale_model_input(model_in, t)
            pred = self.unet(
                unet_input(model_in, cond_mask, cond_masked),
                t,
                encoder_hidden_states=text,
                return_dict=False,
                **extra,
            )[0]
            if guided:
                uncond, cond = pred.chunk(2)
                pred = uncond + guidance_scale * (cond - uncond)
            latents = sched.step(pred, t, latents, return_dict=False)[0]
            if background is not None:
                next_t = timesteps[i + 1] if i + 1 < len(timesteps) else None
                latents = self._replace_background(sched, latents, mask, background, noise, next_t)
        return latents

    @torch.no_grad()
    def __call__(
        self,
        *,
        images: Sequence[Image.Image],
        masks: Sequence[np.ndarray],
        prompt: str,
        negative_prompt: str | None = None,
        num_candidates: int = 1,
        num_inference_steps: int = DEFAULT_STEPS,
        guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
        seed: int | Sequence[int] = 0,
        batch_size: int = 8,
        background_replacement: bool = True,
        latents: torch.Tensor | None = None,
        strength: float = 1.0,
        scheduler: str = "ddim",
    ) -> SamplerOutput:
        """Fill ``masks`` of ``images`` with ``num_candidates`` candidates each.

        - ``images``: PIL images of one size (W, H), both multiples of the VAE factor (8);
        - ``masks``: bool (H, W) arrays, True = the region to fill (any non-zero value counts);
        - ``guidance_scale`` > 1 turns classifier-free guidance on (with ``negative_prompt``, default "";
          SDXL: zeros, as its pipeline);
        - ``seed``: item ``i`` uses ``seed + i``, or pass one seed per item;
        - ``latents``: optional initial noise (len(images) × num_candidates, C, h, w), item-major; drawn
          from the item's generator when ``None`` (with ``strength`` < 1 it is added to the image latent,
          where diffusers would ignore the strength's start);
        - ``strength`` in (0, 1]: start from the image latent noised to that level and run
          ``int(num_inference_steps * strength)`` steps, as diffusers (1.0: from pure noise);
        - ``scheduler``: ``"ddim"`` (DefectFill) or ``"model"`` (the base model's own scheduler class);
        - ``batch_size``: rows per UNet call (a row is one candidate; doubled inside with guidance).
        """
        if not images:
            raise ValueError("images: need at least one image")
        if len(masks) != len(images):
            raise ValueError(f"masks: got {len(masks)} masks for {len(images)} images")
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        check_strength(num_inference_steps, strength)
        if scheduler not in self.schedulers:
            raise ValueError(f"unknown scheduler {scheduler!r}; choose one of {', '.join(self.schedulers)}")
        # any non-zero value marks the defect (bool masks as documented; 0 / 255 arrays work too)
        masks = [np.asarray(m) != 0 for m in masks]
        factor = vae_scale_factor(self.vae)
        sizes = {im.size for im in images}
        if len(sizes) != 1:
            raise ValueError(f"images: all images of one call must share one size, got {sorted(sizes)}")
        width, height = sizes.pop()
        if width % factor or height % factor:
            raise ValueError(f"images: size {width}x{height} is not a multiple of the VAE factor {factor}")
        for i, mask in enumerate(masks):
            if np.asarray(mask).shape != (height, width):
                raise ValueError(
                    f"masks[{i}]: shape {np.asarray(mask).shape} differs from the image's "
                    f"{(height, width)} (H, W)"
                )
        seeds = item_seeds(seed, len(images))
        if latents is not None and latents.shape[0] != len(images) * num_candidates:
            raise ValueError(f"latents: need {len(images) * num_candidates} rows, got {latents.shape[0]}")

        guided = guidance_scale > 1.0
        embeds = self.encode_prompt(prompt, negative_prompt, guided)
        items = self._prepare_items(
            pil_to_tensor(images),
            masks_to_tensor(masks),
            seeds,
            num_candidates,
            batch_size,
            background_replacement,
            latents,
            strength,
        )
        rows = [(i, k) for i in range(len(images)) for k in range(num_candidates)]
        finals: list[torch.Tensor] = []
        decoded: list[Image.Image] = []
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]

            def gather(name: str, chunk=chunk) -> torch.Tensor:
                return torch.cat([getattr(items[i], name) for i, _ in chunk])

            noise = torch.stack([items[i].noise[k] for i, k in chunk])
            out = self.denoise(
                noise,
                gather("mask"),
                gather("masked_latent"),
                embeds,
                gather("background") if background_replacement else None,
                num_inference_steps,
                guidance_scale,
                strength=strength,
                image_latent=gather("image_latent") if strength < 1.0 else None,
                scheduler=scheduler,
            )
            finals.append(out.float().cpu())
            decoded += tensor_to_pil(self._decode(out))
        final = torch.cat(finals)
        return SamplerOutput(
            images=[decoded[i * num_candidates : (i + 1) * num_candidates] for i in range(len(images))],
            latents=[final[i * num_candidates : (i + 1) * num_candidates] for i in range(len(images))],
        )

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        # no clamp before the PIL conversion's own, so the float output equals diffusers' decode
        return self.vae.decode(latents.to(self.vae.dtype) / self.vae.config.scaling_factor).sample
