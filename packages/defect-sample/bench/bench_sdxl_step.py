"""Benchmark: one sampler call on builtin:tiny-xl (SDXL layout) against builtin:tiny (SD2 layout), in one process.

Prints the median seconds of a whole ``DefectFillSampler`` call (encode, 1 denoising step with guidance, decode)
and of the denoising alone per step, and the ratios SDXL / SD2: the cost of SDXL's extra conditioning (second
text encoder, pooled embedding, time ids) and of its layout (linear-projection transformers, 2 layers in
the deep block) at toy size. Nothing is asserted; the numbers go in reports.

    uv run python packages/defect-sample/bench/bench_sdxl_step.py                 # 64 px, 4 candidates
    uv run python packages/defect-sample/bench/bench_sdxl_step.py --size 256 --steps 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=64, help="working size (square, multiple of 8)")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per call")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from defect_sample.model_loading import load_inpaint_pipeline
    from defect_sample.sampler import DefectFillSampler

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (args.size // 8, args.size // 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((args.size, args.size), Image.Resampling.BICUBIC)
    mask = np.zeros((args.size, args.size), bool)
    mask[args.size // 4 : args.size // 2, args.size // 4 : 3 * args.size // 4] = True

    results = {}
    for name in ("tiny", "tiny-xl"):
        sampler = DefectFillSampler.from_pipeline(load_inpaint_pipeline(f"builtin:{name}"))

        def call(steps: int, sampler=sampler) -> None:
            sampler(
                images=[image],
                masks=[mask],
                prompt="white marks on the wall",
                negative_prompt="smooth, plain, black, dark, shadow",
                num_candidates=args.candidates,
                num_inference_steps=steps,
                guidance_scale=20.0,
                batch_size=args.candidates,
            )

        one = median_seconds(lambda call=call: call(1), args.repeats)
        many = median_seconds(lambda call=call: call(args.steps + 1), args.repeats)
        results[name] = (one, (many - one) / args.steps)

    print(f"{args.size} px, {args.candidates} candidates, guidance on (2 x {args.candidates} UNet rows)")
    for name, (call_s, step_s) in results.items():
        print(
            f"  builtin:{name:8s} 1-step call {call_s * 1e3:8.1f} ms   per extra step {step_s * 1e3:8.1f} ms"
        )
    (sd_call, sd_step), (xl_call, xl_step) = results["tiny"], results["tiny-xl"]
    print(f"  ratio tiny-xl / tiny: call {xl_call / sd_call:.2f}x, step {xl_step / sd_step:.2f}x")


if __name__ == "__main__":
    main()
