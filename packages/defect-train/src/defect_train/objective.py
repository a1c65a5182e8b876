"""One DefectFill objective evaluation: both branches in one batched UNet forward (DESIGN.md §4).

t, ε and x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε are drawn once and shared by the branches:
- defect branch: UNet input [x_t, M, E(I ⊙ (1−M))], prompt "A photo of sks", loss on M;
- object branch: UNet input [x_t, M_rand, E(I ⊙ (1−M_rand))], prompt "A {object} with sks", loss on
  M + α(1−M), and the token's decoder cross-attention A compared with M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from defect_core.mask_shapes import random_boxes
from defect_sample.conditioning import (
    encode_latents,
    encode_prompt_ids,
    latent_mask,
    masked_image,
    prediction_target,
    token_positions,
    tokenize,
    unet_input,
)
from defect_train.attention import AttentionStore, install_attention_capture
from defect_train.data import TrainingBatch
from defect_train.losses import LossWeights, attention_loss, defect_loss, object_loss


@dataclass(frozen=True)
class StepLosses:
    """Scalar tensors of one step: the weighted total and each term."""

    total: torch.Tensor
    defect: torch.Tensor
    object: torch.Tensor
    attention: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in ("total", "defect", "object", "attention")}


@dataclass(frozen=True)
class BoxSpec:
    """M_rand: ``count`` boxes with sides in [min_frac, max_frac] of the image side."""

    count: int = 30
    min_frac: float = 0.03
    max_frac: float = 0.25

    def draw(self, batch: int, resolution: int, rng: np.random.Generator) -> torch.Tensor:
        """float (batch, 1, R, R) of 0 / 1."""
        boxes = [random_boxes((resolution, resolution), rng, count=self.count, min_frac=self.min_frac,
                              max_frac=self.max_frac) for _ in range(batch)]
        return torch.from_numpy(np.stack(boxes).astype(np.float32))[:, None]


class DefectFillObjective:
    """Computes the three losses for a batch; owns the attention capture on the UNet's decoder."""

    def __init__(self, *, vae, unet, text_encoder, tokenizer, noise_scheduler, prompts: tuple[str, str],
                 token: str, weights: LossWeights | None = None, object_alpha: float = 0.3,
                 boxes: BoxSpec | None = None) -> None:
        self.vae, self.unet, self.text_encoder = vae, unet, text_encoder
        self.noise_scheduler = noise_scheduler
        self.weights, self.object_alpha = weights or LossWeights(), object_alpha
        self.boxes = boxes or BoxSpec()
        self.input_ids = tokenize(tokenizer, list(prompts))  # (2, L): defect prompt, object prompt
        columns = token_positions(tokenizer, self.input_ids[1], token)
        self.store = AttentionStore(token_columns=columns)
        base_unet = unet.module if hasattr(unet, "module") else unet
        self.capture_layers = install_attention_capture(base_unet, self.store)

    def __call__(self, batch: TrainingBatch, rng: np.random.Generator, generator: torch.Generator) -> StepLosses:
        device = generator.device
        images = batch.images.to(device)
        masks = batch.masks.to(device)
        b, _, res, _ = images.shape
        rand_masks = self.boxes.draw(b, res, rng).to(device)

        # one VAE pass for the image and both backgrounds
        latents = encode_latents(self.vae, torch.cat([images, masked_image(images, masks),
                                                      masked_image(images, rand_masks)]), generator=generator)
        x0, def_background, obj_background = latents.float().chunk(3)
        hw = tuple(x0.shape[-2:])
        m_lat, mrand_lat = latent_mask(masks, hw), latent_mask(rand_masks, hw)

        noise = torch.randn(x0.shape, generator=generator, device=device)
        t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (b,), generator=generator,
                          device=device)
        x_t = self.noise_scheduler.add_noise(x0, noise, t)

        embeds = encode_prompt_ids(self.text_encoder, self.input_ids)  # (2, L, D)
        context = torch.cat([embeds[0:1].expand(b, -1, -1), embeds[1:2].expand(b, -1, -1)])
        model_in = torch.cat([unet_input(x_t, m_lat, def_background), unet_input(x_t, mrand_lat, obj_background)])

        self.store.reset()
        self.store.rows, self.store.latent_hw = slice(b, 2 * b), hw
        self.store.enabled = self.store.recording = True
        try:
            pred = self.unet(model_in, torch.cat([t, t]), encoder_hidden_states=context).sample
        finally:
            self.store.recording = False  # stays enabled for a checkpointed backward: see AttentionStore
        target = prediction_target(self.noise_scheduler, x0, noise, t)
        l_def = defect_loss(target, pred[:b], m_lat)
        l_obj = object_loss(target, pred[b:], m_lat, self.object_alpha)
        l_attn = attention_loss(self.store.mean_map(), m_lat)
        self.store.reset()
        return StepLosses(self.weights.combine(l_def, l_obj, l_attn), l_def, l_obj, l_attn)

    def end_step(self) -> None:
        """Call after the backward pass: stops computing attention maps until the next step."""
        self.store.enabled = False
        self.store.reset()
