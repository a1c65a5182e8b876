"""Speed of one DefectFill step against baselines measured in the same process.

Ratios printed:
1. DefectFill step (2 branches × B samples in one forward, attention capture, 3 losses) vs. a plain LoRA
   inpainting step on the same 2B UNet inputs (masked MSE, stock SDPA processors): the cost of the method's
   machinery. Also vs. a plain step on B samples (the whole cost of the second branch, about 2×).
2. The batched two-branch forward vs. two separate forwards of B each.

The UNet is SD2-shaped at reduced width (block channels 64/128/256/256, 9 input channels, linear
projections), so attention and convolutions weigh as in the real model; run with ``--sd2`` for the full
SD2-inpainting architecture (slow on a CPU).

    uv run python packages/defect-train/bench/bench_step.py [--resolution 128] [--batch 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from sd2_config import SD2_INPAINT_UNET, reduced_width

from defect_sample.conditioning import encode_prompt_ids, latent_mask, masked_image, tokenize, unet_input
from defect_sample.model_loading import load_inpaint_pipeline
from defect_train.data import TrainingBatch
from defect_train.lora import add_lora, lora_parameters
from defect_train.objective import DefectFillObjective


def _time_interleaved(fns: dict[str, callable], repeats: int) -> dict[str, float]:
    """Median seconds of each function, run round-robin so that load drift hits all of them alike."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sd2", action="store_true", help="full SD2-inpainting UNet width")
    args = parser.parse_args()
    torch.manual_seed(0)

    pipe = load_inpaint_pipeline("builtin:tiny")  # VAE, tokenizer and text encoder at toy size
    config = dict(SD2_INPAINT_UNET) if args.sd2 else reduced_width(SD2_INPAINT_UNET)
    config["cross_attention_dim"] = pipe.text_encoder.config.hidden_size
    unet = UNet2DConditionModel(**config)
    add_lora(unet, ("to_q", "to_k", "to_v", "to_out.0"), rank=8, alpha=16, dropout=0.1)
    plain_unet = copy.deepcopy(unet)  # same weights, stock processors
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    b, r = args.batch, args.resolution
    masks = torch.zeros(b, 1, r, r)
    masks[:, :, r // 4 : r // 2, r // 3 : r // 2] = 1
    batch = TrainingBatch(torch.rand(b, 3, r, r) * 2 - 1, masks)

    objective = DefectFillObjective(
        vae=pipe.vae,
        unet=unet,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        noise_scheduler=scheduler,
        prompts=("A photo of sks", "A brick with sks"),
        token="sks",
    )
    params = lora_parameters(unet)

    def defectfill_step() -> None:
        loss = objective(batch, np.random.default_rng(0), torch.Generator().manual_seed(0)).total
        loss.backward()
        for p in params:
            p.grad = None

    ids = tokenize(pipe.tokenizer, ["A photo of sks"])
    plain_params = lora_parameters(plain_unet)

    def plain_step(n: int) -> None:
        # what a plain LoRA inpainting trainer does: one branch, one prompt, masked MSE
        gen = torch.Generator().manual_seed(0)
        images = batch.images.repeat(n // b, 1, 1, 1)
        m = batch.masks.repeat(n // b, 1, 1, 1)
        with torch.no_grad():
            lat = pipe.vae.encode(torch.cat([images, masked_image(images, m)])).latent_dist.sample(
                generator=gen
            )
        x0, background = (lat * pipe.vae.config.scaling_factor).chunk(2)
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, 1000, (n,), generator=gen)
        m_lat = latent_mask(m, tuple(x0.shape[-2:]))
        context = encode_prompt_ids(pipe.text_encoder, ids).expand(n, -1, -1)
        pred = plain_unet(
            unet_input(scheduler.add_noise(x0, noise, t), m_lat, background), t, encoder_hidden_states=context
        ).sample
        F.mse_loss(pred * m_lat, noise * m_lat).backward()
        for p in plain_params:
            p.grad = None

    x = torch.randn(2 * b, 9, r // 8, r // 8)
    t = torch.randint(0, 1000, (2 * b,))
    context = torch.randn(2 * b, 77, config["cross_attention_dim"])

    def batched() -> None:
        plain_unet(x, t, encoder_hidden_states=context).sample.square().mean().backward()

    def separate() -> None:
        for half in (slice(0, b), slice(b, 2 * b)):
            plain_unet(
                x[half], t[half], encoder_hidden_states=context[half]
            ).sample.square().mean().backward()

    timed = _time_interleaved(
        {
            "defectfill": defectfill_step,
            "plain_2b": lambda: plain_step(2 * b),
            "plain_b": lambda: plain_step(b),
            "batched": batched,
            "separate": separate,
        },
        args.repeats,
    )
    t_def, t_plain_2b, t_plain_b = timed["defectfill"], timed["plain_2b"], timed["plain_b"]
    t_batched, t_separate = timed["batched"], timed["separate"]

    n_params = sum(p.numel() for p in unet.parameters()) / 1e6
    print(
        f"UNet: {'SD2-inpainting' if args.sd2 else 'SD2-shaped, reduced width'} ({n_params:.1f} M params), "
        f"{r} px, batch {b}, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"DefectFill step:                         {t_def * 1e3:8.1f} ms")
    print(
        f"plain LoRA inpainting step, 2B inputs:   {t_plain_2b * 1e3:8.1f} ms   ratio {t_def / t_plain_2b:.3f}x "
        "(goal <= 1.15x)"
    )
    print(
        f"plain LoRA inpainting step, B inputs:    {t_plain_b * 1e3:8.1f} ms   ratio {t_def / t_plain_b:.3f}x "
        "(the second branch's compute)"
    )
    print(f"two-branch forward+backward, batched:    {t_batched * 1e3:8.1f} ms")
    print(
        f"two-branch forward+backward, separate:   {t_separate * 1e3:8.1f} ms   batched/separate "
        f"{t_batched / t_separate:.3f}x"
    )


if __name__ == "__main__":
    main()
