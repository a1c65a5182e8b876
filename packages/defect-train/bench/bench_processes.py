"""Step time of a two-process training run against one process with the same global batch, and how far apart
the two concepts are.

Launches ``torchrun --nproc-per-node 1`` and ``--nproc-per-node 2`` of this file (``--worker``) one after the
other, each training the same config for ``--steps`` steps; the workers time every step after the first
``--warmup`` (from the end of one step to the end of the next, through ``train_concept``'s ``on_step``), so
start-up and model loading are not counted. Printed: the median wall time of a step in each, their ratio (two
/ one: 0.5 would be perfect scaling, 1.0 no gain), the CPU time process 0 spent per step (on a machine shared
with other jobs the wall time also counts the waits for a core; the CPU time does not), and the largest
|w_2 − w_1| between the two concepts.

On GPUs each process takes one device (``cuda:LOCAL_RANK``). On a CPU each process gets ``--threads`` threads,
1 by default: one core per process, as one GPU per process. (``--threads 0`` gives each of N processes
cores / N threads, so that both runs use the whole machine; on a machine shared with other jobs a thread pool
spinning against them slows the one-process run down far more than the work explains.)

    uv run python packages/defect-train/bench/bench_processes.py [--base-model builtin:texture] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _config(args: argparse.Namespace, output_dir: Path):
    from defect_train.config import TrainConfig

    return TrainConfig(
        base_model=args.base_model,
        defect_name="hole",
        output_dir=output_dir,
        steps=args.steps,
        batch_size=args.batch,
        resolution=args.resolution,
        warmup_steps=2,
        checkpoint_every=0,
        preview_count=0,
        log_every=args.steps,
        device=args.device,
    )


def worker(args: argparse.Namespace) -> None:
    """One process of a launch: train, and in process 0 write the step times to ``<out>/times.json``."""
    from defect_train.trainer import train_concept

    out = Path(args.out)
    stamps: list[tuple[float, float]] = []
    train_concept(
        _config(args, out), on_step=lambda report: stamps.append((time.perf_counter(), time.process_time()))
    )
    if int(os.environ.get("RANK", "0")) == 0:
        steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:], strict=False)][args.warmup :]
        (out / "times.json").write_text(json.dumps(steps))


def launch(args: argparse.Namespace, processes: int, out: Path) -> list[tuple[float, float]]:
    """Run ``processes`` workers; return (wall, CPU) seconds of each timed step of process 0."""
    threads = args.threads or max(1, (os.cpu_count() or 1) // processes)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(processes),
        __file__,
        "--worker",
        "--out",
        str(out),
        "--base-model",
        args.base_model,
        "--batch",
        str(args.batch),
        "--resolution",
        str(args.resolution),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--device",
        args.device,
    ]
    subprocess.run(
        command,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return json.loads((out / "times.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-model", default="builtin:texture")
    parser.add_argument("--batch", type=int, default=4, help="global batch (both runs)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2, help="timed steps left out at the start")
    parser.add_argument("--threads", type=int, default=1, help="threads per process (0: cores / processes)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import numpy as np
    from safetensors.numpy import load_file

    with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp:
        times = {n: launch(args, n, Path(tmp) / f"p{n}") for n in (1, 2)}
        one, two = (load_file(str(Path(tmp) / f"p{n}" / "concept.safetensors")) for n in (1, 2))
    diff = max(float(np.abs(one[k] - two[k]).max()) for k in one)
    largest = max(float(np.abs(one[k]).max()) for k in one)
    t1, t2 = (statistics.median(wall for wall, _ in times[n]) for n in (1, 2))
    c1, c2 = (statistics.median(cpu for _, cpu in times[n]) for n in (1, 2))
    threads = "cores / processes" if not args.threads else args.threads
    print(
        f"{args.base_model}, {args.resolution} px, global batch {args.batch}, {args.steps} steps "
        f"(median of the last {len(times[1])}), {threads} thread(s) per process, {os.cpu_count()} cores"
    )
    print(f"1 process:    {t1 * 1e3:8.1f} ms / step   (CPU {c1 * 1e3:8.1f} ms)")
    print(
        f"2 processes:  {t2 * 1e3:8.1f} ms / step   (CPU {c2 * 1e3:8.1f} ms per process)   ratio {t2 / t1:.3f} "
        f"(0.5: perfect scaling), CPU ratio {c2 / c1:.3f}"
    )
    print(f"concepts: max |w_2 - w_1| = {diff:.2e} (largest |w| {largest:.3f})")


if __name__ == "__main__":
    main()
