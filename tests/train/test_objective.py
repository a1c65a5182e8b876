"""The batched two-branch objective against an independent per-branch computation from the formulas."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler

from defect_core.masks.shapes import random_boxes
from defect_sample.conditioning import token_positions, tokenize
from defect_train.data import TrainingBatch
from defect_train.objective import DefectFillObjective


def _batch() -> TrainingBatch:
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    masks = torch.zeros(2, 1, 64, 64)
    masks[0, :, 10:12, 5:40] = 1  # a thin scratch: 2 px tall
    masks[1, :, 30:50, 30:50] = 1
    return TrainingBatch(images, masks)


def test_objective_equals_reference_computation(tiny_pipe) -> None:
    pipe = tiny_pipe
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    prompts = ("A photo of sks", "A brick with sks")
    unet = copy.deepcopy(pipe.unet)
    objective = DefectFillObjective(
        vae=pipe.vae,
        unet=unet,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        noise_scheduler=scheduler,
        prompts=prompts,
        token="sks",
    )
    batch = _batch()
    with torch.no_grad():
        losses = objective(batch, np.random.default_rng(5), torch.Generator().manual_seed(7))

    # --- reference: separate forwards, formulas written out, same random draws in the same order ---
    rng, gen = np.random.default_rng(5), torch.Generator().manual_seed(7)
    images, masks = batch.images, batch.masks
    rand = torch.from_numpy(
        np.stack(
            [random_boxes((64, 64), rng, count=30, min_frac=0.03, max_frac=0.25) for _ in range(2)]
        ).astype(np.float32)
    )[:, None]
    vae_in = torch.cat([images, images * (1 - masks), images * (1 - rand)])
    with torch.no_grad():
        lat = pipe.vae.encode(vae_in).latent_dist.sample(generator=gen) * pipe.vae.config.scaling_factor
    x0, bg_def, bg_obj = lat.chunk(3)
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.randint(0, 1000, (2,), generator=gen)
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2  # scaled_linear
    abar = torch.cumprod(1 - betas, 0)[t].float().view(2, 1, 1, 1)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    m = F.max_pool2d(masks, 8)  # 64 px → 8 latent cells of 8 px: any defect pixel marks its cell
    mr = F.max_pool2d(rand, 8)
    assert m[0].sum() > 0  # the 2-px scratch survived
    ids = tokenize(pipe.tokenizer, prompts)
    with torch.no_grad():
        emb = pipe.text_encoder(ids)[0]
        pred_def = pipe.unet(
            torch.cat([x_t, m, bg_def], 1), t, encoder_hidden_states=emb[0:1].expand(2, -1, -1)
        ).sample
        pred_obj = pipe.unet(
            torch.cat([x_t, mr, bg_obj], 1), t, encoder_hidden_states=emb[1:2].expand(2, -1, -1)
        ).sample
    l_def = (m * (noise - pred_def) ** 2).mean()
    l_obj = ((m + 0.3 * (1 - m)) * (noise - pred_obj) ** 2).mean()
    torch.testing.assert_close(losses.defect, l_def, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(losses.object, l_obj, rtol=1e-4, atol=1e-6)

    # attention: decoder cross-attention probabilities of the token, by hand from each layer's Q and K
    column = token_positions(pipe.tokenizer, ids[1], "sks")
    maps = []
    hooks = []

    def grab(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        ctx = kwargs["encoder_hidden_states"]
        heads = module.heads
        q = module.to_q(hidden)
        k = module.to_k(ctx)
        d = q.shape[-1] // heads
        q = q.view(q.shape[0], -1, heads, d).transpose(1, 2)
        k = k.view(k.shape[0], -1, heads, d).transpose(1, 2)
        p = torch.softmax(q @ k.transpose(-1, -2) / d**0.5, -1)[..., column].mean(dim=(1, 3))
        side = int(p.shape[-1] ** 0.5)
        maps.append(
            F.interpolate(p.view(-1, 1, side, side), size=(8, 8), mode="bilinear", align_corners=False)
        )

    for name, module in pipe.unet.named_modules():
        if name.startswith("up_blocks.") and name.endswith("attn2"):
            hooks.append(module.register_forward_hook(grab, with_kwargs=True))
    try:
        with torch.no_grad():
            pipe.unet(torch.cat([x_t, mr, bg_obj], 1), t, encoder_hidden_states=emb[1:2].expand(2, -1, -1))
    finally:
        for h in hooks:
            h.remove()
    assert maps
    l_attn = ((torch.stack(maps).mean(0) - m) ** 2).mean()
    torch.testing.assert_close(losses.attention, l_attn, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(losses.total, 0.5 * l_def + 0.2 * l_obj + 0.05 * l_attn, rtol=1e-4, atol=1e-6)


def test_v_prediction_target(tiny_pipe) -> None:
    from defect_sample.conditioning import prediction_target

    scheduler = DDPMScheduler.from_config(tiny_pipe.scheduler.config, prediction_type="v_prediction")
    x0, noise, t = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8), torch.tensor([3, 900])
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - betas, 0)[t].float().view(2, 1, 1, 1)
    expected = abar.sqrt() * noise - (1 - abar).sqrt() * x0  # v = √ᾱ ε − √(1−ᾱ) x0
    torch.testing.assert_close(prediction_target(scheduler, x0, noise, t), expected, rtol=1e-5, atol=1e-5)
