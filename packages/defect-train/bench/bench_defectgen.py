"""Cost of Defect-Gen at the paper's size: one training iteration and one sampling step of each network at
256 px, batch 2 (time here, peak memory, and the projection to the paper's 160 000 iterations per network),
and the two-stage sampler's overhead over the bare network forwards (goal: at most 5 %).

Each network is measured in its own subprocess, so that its peak resident memory (ru_maxrss, on the CPU) or
``torch.cuda.max_memory_allocated`` (on a GPU) is its own. A training iteration is what the trainer runs per
step: draw t and ε, x_t by ``add_noise``, the x0 prediction, MSE, backward, AdamW, EMA update. A sampling
step is one network forward under ``inference_mode`` plus the scheduler's DDPM update. The overhead of the
two-stage loop (``defect_sample.defectgen.denoise``: noise drawing, scheduler steps, network switch) is
measured against the same forwards called back to back, interleaved to share the machine's load; it uses the
cpu pair at 64 px by default (the loop's cost does not depend on the network size, its share does: the
paper pair makes it smaller).

    uv run python packages/defect-train/bench/bench_defectgen.py [--resolution 256] [--batch 2] [--repeats 3]
        [--device cpu|cuda] [--classes 2] [--overhead-size cpu] [--overhead-steps 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

PAPER_ITERATIONS = 160_000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def measure_network(role: str, args: argparse.Namespace) -> dict:
    """Train-iteration and sampling-step seconds (medians) and peak memory of one paper-size network."""
    from defect_sample.defectgen import make_scheduler
    from defect_train.base_model.ema import EmaWeights
    from defect_train.defectgen.loss import draw_timesteps_and_noise, x0_loss
    from defect_train.defectgen.networks import build_unet, unet_spec

    device = torch.device(args.device)
    channels = 3 + 1 + args.classes
    torch.manual_seed(0)
    net = build_unet(unet_spec("paper", role), channels, args.resolution).to(device).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.002)
    ema = EmaWeights(net, 0.9999)
    scheduler = make_scheduler(1000)
    generator = torch.Generator().manual_seed(0)
    x0 = (torch.rand(args.batch, channels, args.resolution, args.resolution) * 2 - 1).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = _peak_bytes(device)

    def train_iteration(step: int) -> None:
        t, noise = draw_timesteps_and_noise(x0, 1000, generator)
        loss = x0_loss(net, scheduler, x0, noise, t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.update(net, step)

    # sampling first: the peak resident memory only grows, so the smaller need is measured first
    net.eval()
    sampler = make_scheduler(1000)
    sampler.set_timesteps(1000)
    x = torch.randn(x0.shape, generator=generator).to(device)
    rngs = [torch.Generator().manual_seed(i) for i in range(args.batch)]
    sample_times = []
    with torch.inference_mode():
        for i in range(args.repeats + 1):
            t = sampler.timesteps[i]
            _sync(device)
            start = time.perf_counter()
            pred = net(x, t.to(device)).sample
            x = sampler.step(pred, t, x, generator=rngs).prev_sample
            _sync(device)
            sample_times.append(time.perf_counter() - start)
    sampling_peak = _peak_bytes(device)
    if device.type == "cuda":  # the GPU's peak can be reset: the training peak is then its own
        torch.cuda.reset_peak_memory_stats(device)
    net.train()
    train_times = []
    for step in range(args.repeats + 1):  # the first is a warm-up (allocations, AdamW state)
        _sync(device)
        start = time.perf_counter()
        train_iteration(step)
        _sync(device)
        train_times.append(time.perf_counter() - start)
    train_peak = _peak_bytes(device)

    return {
        "role": role,
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_seconds": statistics.median(train_times[1:]),
        "sample_step_seconds": statistics.median(sample_times[1:]),
        "memory_before_bytes": before,
        "train_peak_bytes": train_peak,
        "sampling_peak_bytes": sampling_peak,
        "threads": torch.get_num_threads(),
    }


def measure_overhead(args: argparse.Namespace) -> dict:
    """Seconds of ``denoise`` over ``--overhead-steps`` DDIM steps vs. the same network forwards alone."""
    from defect_core.generator_card import GeneratorCard
    from defect_sample.defectgen import make_scheduler
    from defect_sample.defectgen.generator_folder import DefectGenerator
    from defect_sample.defectgen.schedule import ddim_like
    from defect_sample.defectgen.two_stage import denoise, network_for_timestep
    from defect_train.defectgen.networks import build_large_unet, build_small_unet

    size = args.overhead_size
    resolution = 64 if size == "cpu" else args.resolution
    classes = {k: f"class{k}" for k in range(1, args.classes + 1)}
    card = GeneratorCard(object_name="bench", classes=classes, resolution=resolution, size=size)
    device = torch.device(args.device)
    torch.manual_seed(0)
    nets = [
        build(card.num_channels, size, resolution).to(device).eval()
        for build in (build_large_unet, build_small_unet)
    ]
    generator = DefectGenerator(nets[0], nets[1], make_scheduler(1000), card)
    scheduler = ddim_like(generator.scheduler)
    scheduler.set_timesteps(args.overhead_steps)
    timesteps = list(scheduler.timesteps)
    x = torch.randn(args.batch, card.num_channels, resolution, resolution, device=device)
    seeds = list(range(args.batch))

    def two_stage() -> None:
        denoise(generator, seeds, steps=args.overhead_steps)

    def bare() -> None:
        with torch.inference_mode():
            for t in timesteps:
                network_for_timestep(generator, int(t), card.switch_step)(x, t.to(device))

    times = {"two_stage": [], "bare": []}
    for fn in (two_stage, bare):  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in (("two_stage", two_stage), ("bare", bare)):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(v) for name, v in times.items()}
    return {
        "size": size,
        "resolution": resolution,
        "steps": args.overhead_steps,
        **{f"{k}_seconds": v for k, v in med.items()},
        "overhead": med["two_stage"] / med["bare"] - 1,
    }


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--classes", type=int, default=2, help="defect classes (channels = 4 + classes)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--overhead-size", choices=("cpu", "paper"), default="cpu")
    parser.add_argument("--overhead-steps", type=int, default=20)
    parser.add_argument("--skip-overhead", action="store_true", help="only the paper-size networks")
    parser.add_argument("--skip-networks", action="store_true", help="only the two-stage loop's overhead")
    parser.add_argument("--network", choices=("large", "small"), help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.network:
        print(json.dumps(measure_network(args.network, args)))
        return
    if not args.skip_networks:
        _report_networks(args)
    if not args.skip_overhead:
        o = measure_overhead(args)
        print(
            f"two-stage loop overhead ({o['size']} pair, {o['resolution']} px, {o['steps']} DDIM steps, batch "
            f"{args.batch}): {o['two_stage_seconds']:.3f} s vs bare forwards {o['bare_seconds']:.3f} s = "
            f"{o['overhead']:+.1%} (goal <= +5 %)"
        )


def _report_networks(args: argparse.Namespace) -> None:
    rows = []
    for role in ("large", "small"):
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--network", role],
            check=True,
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(
        f"Defect-Gen paper-size networks at {args.resolution} px, batch {args.batch}, {args.classes} class(es), "
        f"device {args.device}, {rows[0]['threads']} torch thread(s), median of {args.repeats}"
    )
    print(
        f"{'network':8} {'params':>9} {'train it':>10} {'sample step':>12} {'peak train':>11} {'peak sample':>12}"
    )
    for r in rows:
        print(
            f"{r['role']:8} {r['parameters'] / 1e6:8.1f}M {r['train_seconds']:9.3f}s {r['sample_step_seconds']:11.3f}s "
            f"{_gib(r['train_peak_bytes']):>11} {_gib(r['sampling_peak_bytes']):>12}"
        )
    total = sum(r["train_seconds"] for r in rows) * PAPER_ITERATIONS
    for r in rows:
        hours = r["train_seconds"] * PAPER_ITERATIONS / 3600
        print(f"projection: {PAPER_ITERATIONS} iterations of the {r['role']} network: {hours:.1f} h")
    print(
        f"projection: both networks, {PAPER_ITERATIONS} iterations each: {total / 3600:.1f} h ({total / 86400:.1f} days)"
    )
    steps = 1000
    sample = (600 * rows[0]["sample_step_seconds"] + 400 * rows[1]["sample_step_seconds"]) / args.batch
    print(
        f"sampling: {steps} DDPM steps (600 large + 400 small) per batch of {args.batch}: {sample:.1f} s per image"
    )


if __name__ == "__main__":
    main()
