"""Overhead of Defect-Gen's two-stage sampler over the bare network forwards, measured in one process.

For one batch and the same timesteps, three loops run in turns (median of --repeats rounds, after a warm-up):

- ``bare``: the network forwards alone, back to back (the large network for t >= switch, the small below);
- ``denoise``: :func:`defect_sample.defectgen.denoise`: the same forwards plus the per-item noise generators,
  the scheduler updates and the network switch;
- ``sample``: :func:`defect_sample.defectgen.sample_defectgen`: ``denoise`` plus the decoding to PIL images
  and label arrays.

Prints seconds and the ratios against ``bare`` (goal: denoise / bare <= 1.05), for the DDIM path (``--steps``
of a T = 1000 schedule, eta 0: no step noise) and the full DDPM path (a T = --steps schedule: a noise draw per
item and step). The networks are random, with the paper's layout (``--size paper``: base 128, multipliers
1,1,2,2,4,4, attention at the three coarsest levels / base 192, 1,2,4, no attention) or a narrower pair
(``--size small``, the default, so that it runs in minutes on a CPU).

    uv run python packages/defect-sample/bench/bench_defectgen_sampling.py                # small pair, 64 px, CPU
    uv run python packages/defect-sample/bench/bench_defectgen_sampling.py --size paper --resolution 256 \\
        --device cuda --batch 8
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from diffusers import UNet2DModel

from defect_core.generator_card import GeneratorCard
from defect_sample.defectgen import DefectGenerator, denoise, make_scheduler, sample_defectgen
from defect_sample.defectgen.schedule import ddim_like
from defect_sample.defectgen.two_stage import item_seed, network_for_timestep

CLASSES = {1: "crack", 2: "hole"}

# (base width, multipliers, attention levels counted from the coarsest, attention in the middle block)
LAYOUTS = {
    "paper": {"large": (128, (1, 1, 2, 2, 4, 4), 3, True), "small": (192, (1, 2, 4), 0, False)},
    "small": {"large": (32, (1, 2, 2, 4), 2, True), "small": (64, (1, 2, 4), 0, False)},
}


def build_unet(size: str, role: str, channels: int, resolution: int) -> UNet2DModel:
    base, mults, attention_levels, mid_attention = LAYOUTS[size][role]
    n = len(mults)
    attention = [i >= n - attention_levels for i in range(n)]
    torch.manual_seed(0 if role == "large" else 1)
    return UNet2DModel(
        sample_size=resolution,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=tuple(base * m for m in mults),
        layers_per_block=2,
        down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention),
        up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)),
        attention_head_dim=16,
        resnet_time_scale_shift="scale_shift",
        add_attention=mid_attention,
        norm_num_groups=32,
    ).eval()


def median_times(
    fns: dict[str, Callable[[], object]], repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """Median seconds of each function; they take turns in every round, so that load changes on a shared
    machine hit all of them alike."""
    for fn in fns.values():
        fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}


def measure(
    generator: DefectGenerator, steps: int | None, batch: int, repeats: int, sync
) -> dict[str, float]:
    card = generator.card
    seeds = [item_seed(0, j) for j in range(batch)]
    if steps is None:
        scheduler = make_scheduler(card.num_train_timesteps)
        scheduler.set_timesteps(card.num_train_timesteps)
    else:
        scheduler = ddim_like(generator.scheduler)
        scheduler.set_timesteps(steps)
    timesteps = [t.to(generator.device) for t in scheduler.timesteps]
    x = torch.randn(batch, card.num_channels, card.resolution, card.resolution, device=generator.device)

    def bare() -> object:
        with torch.inference_mode():
            out = None
            for t in timesteps:
                out = network_for_timestep(generator, int(t), card.switch_step)(x, t).sample
            return out

    def two_stage() -> object:
        return denoise(generator, seeds, steps=steps)

    def sample() -> object:
        return list(sample_defectgen(generator, batch, seed=0, batch_size=batch, steps=steps))

    return median_times({"bare": bare, "denoise": two_stage, "sample": sample}, repeats, sync)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(LAYOUTS), default="small", help="network pair layout")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps, and T of the DDPM measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a shared machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    channels = 3 + 1 + len(CLASSES)
    large = build_unet(args.size, "large", channels, args.resolution).to(device)
    small = build_unet(args.size, "small", channels, args.resolution).to(device)
    params = {
        n: sum(p.numel() for p in m.parameters()) / 1e6 for n, m in (("large", large), ("small", small))
    }
    print(
        f"{args.size} pair at {args.resolution} px, batch {args.batch}, {args.device}, "
        f"{torch.get_num_threads()} CPU thread(s); parameters: large {params['large']:.1f} M, "
        f"small {params['small']:.1f} M"
    )
    rows = []
    for label, T, steps, switch in (
        (f"DDIM {args.steps} of 1000 steps", 1000, args.steps, 400),
        (f"DDPM, all {args.steps} steps", args.steps, None, round(args.steps * 0.4)),
    ):
        card = GeneratorCard(
            object_name="bench",
            classes=CLASSES,
            resolution=args.resolution,
            switch_step=switch,
            num_train_timesteps=T,
        )
        generator = DefectGenerator(large, small, make_scheduler(T), card)
        t = measure(generator, steps, args.batch, args.repeats, sync)
        rows.append((label, t))
    print(
        f"{'path':<26} {'bare s':>9} {'denoise s':>10} {'sample s':>9} {'denoise/bare':>13} {'sample/bare':>12}"
    )
    for label, t in rows:
        print(
            f"{label:<26} {t['bare']:9.3f} {t['denoise']:10.3f} {t['sample']:9.3f} "
            f"{t['denoise'] / t['bare']:13.3f} {t['sample'] / t['bare']:12.3f}"
        )
    print("goal: denoise / bare <= 1.05 (the sampler adds at most 5 % to the network forwards)")


if __name__ == "__main__":
    main()
