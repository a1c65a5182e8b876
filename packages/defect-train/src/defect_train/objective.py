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

from defect_core.masks.shapes import random_boxes
from defect_sample.conditioning import (
    encode_latents,
    encode_prompt_ids,
    latent_mask,
    masked_image,
    prediction_target,
    token_positions,
    tokenize,
    unet_input,
    vae_scale_factor,
)
from defect_train.attention import AttentionStore, install_attention_capture
from defect_train.data import TrainingBatch
from defect_train.keyed_dropout import DropoutKeys, use_keyed_dropout
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
    """M_rand: ``count`` boxes, each side in [min_frac, max_frac] of the image's side along it."""

    count: int = 30
    min_frac: float = 0.03
    max_frac: float = 0.25

    def draw(self, batch: int, size: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
        """float (batch, 1, H, W) of 0 / 1 for ``size`` = (H, W)."""
        boxes = [
            random_boxes(size, rng, count=self.count, min_frac=self.min_frac, max_frac=self.max_frac)
            for _ in range(batch)
        ]
        return torch.from_numpy(np.stack(boxes).astype(np.float32))[:, None]


class DefectFillObjective:
    """Computes the three losses for a batch; owns the attention capture on the UNet's decoder."""

    def __init__(
        self,
        *,
        vae,
        unet,
        text_encoder,
        tokenizer,
        noise_scheduler,
        prompts: tuple[str, str],
        token: str,
        weights: LossWeights | None = None,
        object_alpha: float = 0.3,
        boxes: BoxSpec | None = None,
    ) -> None:
        self.vae, self.unet, self.text_encoder = vae, unet, text_encoder
        self.noise_scheduler = noise_scheduler
        self.weights, self.object_alpha = weights or LossWeights(), object_alpha
        self.boxes = boxes or BoxSpec()
        self.input_ids = tokenize(tokenizer, list(prompts))  # (2, L): defect prompt, object prompt
        columns = token_positions(tokenizer, self.input_ids[1], token)
        self.store = AttentionStore(token_columns=columns)
        # the models may come wrapped for multi-process training (DDP keeps them in .module)
        base_unet = unet.module if hasattr(unet, "module") else unet
        base_text_encoder = text_encoder.module if hasattr(text_encoder, "module") else text_encoder
        self.capture_layers = install_attention_capture(base_unet, self.store)
        self.dropout_keys = DropoutKeys(rows={"text_encoder": tuple(range(len(self.input_ids)))})
        use_keyed_dropout(base_unet, self.dropout_keys, "unet")
        use_keyed_dropout(base_text_encoder, self.dropout_keys, "text_encoder")

    def __call__(
        self,
        batch: TrainingBatch,
        rng: np.random.Generator,
        generator: torch.Generator,
        rows: slice = slice(None),
    ) -> StepLosses:
        """The losses of the samples ``rows`` of ``batch`` (default: all of them).

        ``batch`` is the step's whole batch, images (B, 3, H, W). Every random quantity (M_rand, the VAE's
        posterior draws, ε, t and the LoRA dropout masks, see :mod:`defect_train.keyed_dropout`) is drawn
        for all B samples in the same order whatever ``rows`` is, and each loss is a mean over the rows:
        processes that take equal shares of the rows and average their gradients (DDP) compute what one
        process computes on the whole batch, up to float rounding.
        """
        device = generator.device
        total, _, height, width = batch.images.shape
        ids = range(total)[rows]
        b = len(ids)
        rand_masks = self.boxes.draw(total, (height, width), rng)[rows].to(device)
        self.dropout_keys.seed = int(rng.integers(2**63))
        images = batch.images[rows].to(device)
        masks = batch.masks[rows].to(device)

        f = vae_scale_factor(self.vae)
        latent_shape = (total, self.vae.config.latent_channels, height // f, width // f)
        # one VAE pass for the image and both backgrounds; the posterior draws of all three, for every sample
        posterior = torch.randn((3, *latent_shape), generator=generator, device=device)[:, rows].flatten(0, 1)
        latents = encode_latents(
            self.vae,
            torch.cat([images, masked_image(images, masks), masked_image(images, rand_masks)]),
            noise=posterior,
        )
        x0, def_background, obj_background = latents.float().chunk(3)
        hw = tuple(x0.shape[-2:])
        m_lat, mrand_lat = latent_mask(masks, hw), latent_mask(rand_masks, hw)

        noise = torch.randn(latent_shape, generator=generator, device=device)[rows]
        t = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (total,), generator=generator, device=device
        )[rows]
        x_t = self.noise_scheduler.add_noise(x0, noise, t)

        embeds = encode_prompt_ids(self.text_encoder, self.input_ids)  # (2, L, D)
        context = torch.cat([embeds[0:1].expand(b, -1, -1), embeds[1:2].expand(b, -1, -1)])
        model_in = torch.cat(
            [unet_input(x_t, m_lat, def_background), unet_input(x_t, mrand_lat, obj_background)]
        )
        # UNet rows: the defect branch of samples `ids`, then their object branch (ids total + i)
        self.dropout_keys.rows["unet"] = (*ids, *(total + i for i in ids))

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
