"""The inputs an inpainting UNet is conditioned on, built exactly as diffusers'
``StableDiffusionInpaintPipeline`` builds them (DESIGN.md §4), shared by training and sampling.

Conventions (tensors):
- images: float (B, 3, H, W) in [-1, 1];
- masks: float (B, 1, H, W) with values 0 / 1, 1 = defect (the region to fill);
- latents: float (B, 4, H / f, W / f), already multiplied by ``vae.config.scaling_factor``;
- UNet input: ``torch.cat([x_t, mask_latent, masked_image_latent], dim=1)`` — 4 + 1 + 4 channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

_PARALLEL_WRAPPERS = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
"""Wrappers that keep the model in ``.module`` and do not forward its attributes."""


def vae_scale_factor(vae) -> int:
    """Pixels per latent cell: 2 ** (number of VAE blocks − 1), 8 for Stable Diffusion."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def pil_to_tensor(images: Sequence[Image.Image]) -> torch.Tensor:
    """PIL RGB images of one size → float (B, 3, H, W) in [-1, 1]."""
    arrays = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) for im in images])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2) / 127.5 - 1.0


def tensor_to_pil(images: torch.Tensor) -> list[Image.Image]:
    """Float (B, 3, H, W) in [-1, 1] → PIL RGB images (rounded as diffusers' image processor does)."""
    arrays = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    return [Image.fromarray((a * 255).round().astype(np.uint8)) for a in arrays]


def masks_to_tensor(masks: Sequence[np.ndarray]) -> torch.Tensor:
    """Bool masks (H, W) of one size → float (B, 1, H, W) of 0 / 1."""
    return torch.from_numpy(np.stack([np.asarray(m, dtype=np.float32) for m in masks]))[:, None]


def masked_image(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The background the UNet sees: ``I * (M < 0.5)``, so the hole is 0 (mid-grey) as in diffusers."""
    return images * (masks < 0.5).to(images.dtype)


def latent_mask(masks: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Downscale float (B, 1, H, W) masks of 0 / 1 to (B, 1, h, w), h <= H and w <= W, by max-pooling: a
    defect pixel marks every cell it touches. This is :func:`defect_core.masks.resize_mask_covering`'s
    shrinking rule with the same cell bounds, also when H / h is not an integer (a pixel on a cell edge
    marks both cells).

    Nearest-neighbour downsampling (what the stock pipeline does) drops thin scratches that miss the
    sampled pixel; max-pooling keeps them. On a mask aligned to the latent grid both agree.
    """
    h, w = (int(v) for v in latent_hw)
    if h > masks.shape[-2] or w > masks.shape[-1]:
        # max-pooling onto a finer grid would grow a defect by a straddling cell per side (the numpy rule
        # grows by nearest neighbour); a latent grid is never finer than its mask
        raise ValueError(f"latent grid {(h, w)} is finer than the masks {tuple(masks.shape[-2:])}")
    return F.adaptive_max_pool2d(masks, (h, w))


@torch.no_grad()
def encode_latents(
    vae,
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    sample: bool = True,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """VAE latents of ``images`` (B, 3, H, W) in [-1, 1], scaled by ``vae.config.scaling_factor``.

    ``sample=True`` draws from the latent distribution with ``generator``, as the inpainting pipeline
    does for the masked image; ``False`` takes its mode. ``noise`` (B, C, H / f, W / f), standard normal,
    is the draw to use instead of one from ``generator``: a multi-process trainer draws it for the whole
    batch and gives each process its rows, so the split does not change what any sample gets.
    """
    dist = vae.encode(images.to(vae.device, vae.dtype)).latent_dist
    if noise is not None:
        latents = dist.mean + dist.std * noise.to(dist.mean.device, dist.mean.dtype)
    else:
        latents = dist.sample(generator=generator) if sample else dist.mode()
    return latents * vae.config.scaling_factor


def tokenize(tokenizer, prompts: Sequence[str]) -> torch.Tensor:
    """Token ids (B, model_max_length), padded and truncated as the pipeline does."""
    return tokenizer(
        list(prompts),
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids


def encode_prompt_ids(text_encoder, input_ids: torch.Tensor) -> torch.Tensor:
    """Text embeddings (B, L, D) of token ids, with the attention mask only where the encoder wants one.

    ``text_encoder`` may be wrapped for multi-process training (``DistributedDataParallel``): the forward
    goes through the wrapper, which synchronises the gradients; its config and device are the model's.
    """
    model = text_encoder.module if isinstance(text_encoder, _PARALLEL_WRAPPERS) else text_encoder
    input_ids = input_ids.to(model.device)
    attention_mask = None
    if getattr(model.config, "use_attention_mask", False):
        attention_mask = torch.ones_like(input_ids)
    return text_encoder(input_ids, attention_mask=attention_mask)[0]


def token_piece_ids(tokenizer, token: str) -> list[int]:
    """The ids the tokenizer splits ``token`` into (one id for a known word, several for a rare one)."""
    ids = tokenizer(token, add_special_tokens=False).input_ids
    if not ids:
        raise ValueError(f"token {token!r} tokenizes to nothing")
    return list(ids)


def token_positions(tokenizer, input_ids: torch.Tensor, token: str) -> list[int]:
    """Positions of ``token``'s pieces in one tokenized prompt (L,), searched after the BOS token.

    A token split into several pieces gives every piece's position (the attention loss averages them).
    Raises ``ValueError`` if the prompt does not contain the token.
    """
    pieces = token_piece_ids(tokenizer, token)
    ids = input_ids.tolist()
    for start in range(1, len(ids) - len(pieces) + 1):
        if ids[start : start + len(pieces)] == pieces:
            return list(range(start, start + len(pieces)))
    raise ValueError(f"token {token!r} (ids {pieces}) not found in the tokenized prompt")


def unet_input(
    x_t: torch.Tensor, mask_latent: torch.Tensor, masked_image_latent: torch.Tensor
) -> torch.Tensor:
    """The 9-channel UNet input in diffusers' order: ``[x_t (4), mask (1), masked-image latent (4)]``."""
    return torch.cat([x_t, mask_latent.to(x_t.dtype), masked_image_latent.to(x_t.dtype)], dim=1)


def prediction_target(
    scheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
) -> torch.Tensor:
    """What the UNet is trained to predict, from the scheduler's ``prediction_type``: ε or v."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise ValueError(f"unsupported prediction_type {kind!r} (supported: epsilon, v_prediction)")
