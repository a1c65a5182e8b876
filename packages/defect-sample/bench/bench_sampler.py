"""Benchmark of the DefectFill sampler against the stock diffusers inpainting pipeline, in one process.

Prints times (median of --repeats, after one warm-up) and the ratios that matter:

1. 8 LFS candidates of one (image, mask) in one batched sampler call vs 8 calls of diffusers'
   ``StableDiffusionInpaintPipeline`` with the same number of steps (goal: >= 3x on builtin:tiny, and not
   slower on a mid-sized UNet);
2. the same sampler one candidate per UNet call (``batch_size=1``: conditioning reused, no batching) and
   8 separate sampler calls (nothing reused), to split the gain into batching and reuse;
3. sampler overhead per denoising step: ``DefectFillSampler.denoise`` vs a bare loop of UNet forwards on
   the same batch and steps (goal: <= 10 %).

    uv run python packages/defect-sample/bench/bench_sampler.py                  # builtin:tiny, 64 px
    uv run python packages/defect-sample/bench/bench_sampler.py --unet mid --size 128 --steps 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image


def median_times(
    fns: dict[str, Callable[[], object]], repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """Median seconds of each function; the functions take turns in every round, so that a load change
    on a shared machine hits all of them alike instead of biasing whichever ran during it."""
    for fn in fns.values():
        fn()  # warm-up: kernel selection, allocator, lazy imports
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def mid_unet(cross_attention_dim: int, sample_size: int):
    """A random mid-sized 9-channel UNet (~SD's layout at reduced width)."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=9,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(64, 128, 256, 256),
        down_block_types=(
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=32,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="builtin:tiny", help="base inpainting model")
    parser.add_argument(
        "--unet",
        choices=["model", "mid"],
        default="model",
        help="mid: replace the model's UNet by a random mid-sized one",
    )
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of torch (default: torch's, one per core; use 1 on a machine that other "
        "jobs share, where several threads mostly measure contention)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from defect_sample.model_loading import load_inpaint_pipeline
    from defect_sample.sampler import DefectFillSampler

    dtype = getattr(torch, args.dtype)
    pipe = load_inpaint_pipeline(args.model, dtype=dtype, device=args.device)
    if args.unet == "mid":
        pipe.unet = mid_unet(pipe.text_encoder.config.hidden_size, args.size // 8).to(args.device, dtype)
    sampler = DefectFillSampler.from_pipeline(pipe)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8))
    mask = np.zeros((args.size, args.size), bool)
    mask[args.size // 4 : args.size // 2, args.size // 4 : 3 * args.size // 4] = True
    mask_image = Image.fromarray(mask.astype(np.uint8) * 255)
    prompt, k, steps = "A photo of sks", args.candidates, args.steps

    def ours_batched() -> object:
        return sampler(
            images=[image],
            masks=[mask],
            prompt=prompt,
            num_candidates=k,
            num_inference_steps=steps,
            batch_size=k,
            seed=0,
        )

    def ours_one_row_per_call() -> object:
        return sampler(
            images=[image],
            masks=[mask],
            prompt=prompt,
            num_candidates=k,
            num_inference_steps=steps,
            batch_size=1,
            seed=0,
        )

    def ours_separate_calls() -> object:
        return [
            sampler(
                images=[image],
                masks=[mask],
                prompt=prompt,
                num_candidates=1,
                num_inference_steps=steps,
                seed=s,
            )
            for s in range(k)
        ]

    def stock_calls() -> object:
        return [
            pipe(
                prompt=prompt,
                image=image,
                mask_image=mask_image,
                height=args.size,
                width=args.size,
                num_inference_steps=steps,
                guidance_scale=1.0,
                generator=torch.Generator().manual_seed(s),
            )
            for s in range(k)
        ]

    # per-step overhead: the sampler's denoising loop vs bare UNet forwards on the same batch
    h = args.size // 8
    noise = torch.randn(k, 4, h, h, device=args.device, dtype=dtype)
    cond_mask = torch.ones(k, 1, h, h, device=args.device, dtype=dtype)
    masked = torch.randn(k, 4, h, h, device=args.device, dtype=dtype)
    background = torch.randn(k, 4, h, h, device=args.device, dtype=dtype)
    embeds = sampler.encode_prompt(prompt, None, guidance=False)
    x_in = torch.cat([noise, cond_mask, masked], dim=1)
    text = embeds.expand(k, -1, -1)
    sampler.scheduler.set_timesteps(steps)
    timesteps = sampler.scheduler.timesteps

    @torch.no_grad()
    def bare_unet() -> object:
        out = None
        for t in timesteps:
            out = pipe.unet(x_in, t, encoder_hidden_states=text, return_dict=False)[0]
        return out

    def denoise() -> object:
        return sampler.denoise(noise, cond_mask, masked, embeds, background, steps, 1.0)

    r = args.repeats
    t = median_times(
        {
            "ours": ours_batched,
            "rows": ours_one_row_per_call,
            "separate": ours_separate_calls,
            "stock": stock_calls,
            "bare": bare_unet,
            "denoise": denoise,
        },
        r,
        sync,
    )
    t_ours, t_rows, t_separate, t_stock, t_bare, t_denoise = (
        t["ours"],
        t["rows"],
        t["separate"],
        t["stock"],
        t["bare"],
        t["denoise"],
    )

    print(
        f"model {args.model} (unet: {args.unet}, {sum(p.numel() for p in pipe.unet.parameters()) / 1e6:.2f} M "
        f"params), {args.size} px, {steps} steps, {k} candidates, {args.device} {args.dtype}, "
        f"{torch.get_num_threads()} CPU threads, median of {r}"
    )
    print(f"  sampler, {k} candidates batched          {t_ours:8.3f} s")
    print(f"  sampler, 1 candidate per UNet call        {t_rows:8.3f} s")
    print(f"  sampler, {k} separate calls                {t_separate:8.3f} s")
    print(f"  stock StableDiffusionInpaintPipeline x{k}  {t_stock:8.3f} s")
    print(f"  bare UNet loop ({steps} forwards, batch {k})   {t_bare:8.3f} s")
    print(f"  sampler denoise loop (same batch)         {t_denoise:8.3f} s")
    print(
        f"ratio stock x{k} / sampler batched:            {t_stock / t_ours:6.2f}x  (goal >= 3 on builtin:tiny)"
    )
    print(f"ratio 1-per-call / batched (batching gain):   {t_rows / t_ours:6.2f}x")
    print(f"ratio separate calls / 1-per-call (reuse):    {t_separate / t_rows:6.2f}x")
    print(
        f"sampler overhead per denoising step:          {100 * (t_denoise / t_bare - 1):6.1f} %  (goal <= 10 %)"
    )


if __name__ == "__main__":
    main()
