"""IC-LPIPS on 1000 generated images with a random-weight LPIPS network (runs offline).

Ours embeds every image once and takes all distances from matrix products. The baseline is the usual way
(DFMGAN's ``compute_clpips``): one ``lpips.LPIPS`` call per (generated, training) pair and per member pair.
Its full cost at 1000 images is far too long to run here, so its time per pair is measured on 64 pairs (in
batches of 16) and multiplied by the number of pairs it would evaluate (stated as extrapolated); the value
check runs the baseline in full on a small set.

Run: ``uv run python packages/defect-metrics/bench/bench_ic_lpips.py``
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch
from scipy import ndimage

from defect_metrics import ICLPIPSConfig, ic_lpips, load_lpips


def images(count: int, size: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        noise = ndimage.gaussian_filter(
            rng.random((size, size, 3)), sigma=(rng.uniform(1, 6), rng.uniform(1, 6), 0)
        )
        noise = (noise - noise.min()) / (noise.max() - noise.min() + 1e-9)
        out.append((noise * 255).astype(np.uint8))
    return out


def as_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1


def baseline(network, generated, training, max_members: int) -> float:
    """One LPIPS call per pair, as the reference implementations do (training set batched per image)."""
    clusters: list[list[int]] = [[] for _ in training]
    train = as_tensor(training)
    with torch.no_grad():
        for index, image in enumerate(generated):
            scores = network(as_tensor([image]).expand(len(training), -1, -1, -1), train).flatten()
            clusters[int(scores.argmin())].append(index)
        values = []
        for members in clusters:
            members = members[:max_members]
            if not members:
                continue
            pairs = list(itertools.combinations(members, 2))
            total = sum(
                float(network(as_tensor([generated[a]]), as_tensor([generated[b]]))) for a, b in pairs
            )
            values.append(total / len(pairs) if pairs else 0.0)
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--training", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument(
        "--check-images", type=int, default=40, help="generated images of the full value check"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: fastest on a shared box)"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    network = load_lpips("alex", random_backbone=True)
    config = ICLPIPSConfig(image_size=args.size)
    generated = images(args.images, args.size, 1)
    training = images(args.training, args.size, 2)
    print(
        f"{args.images} generated, {args.training} training images of {args.size}x{args.size}, "
        f"{torch.get_num_threads()} CPU threads"
    )

    start = time.perf_counter()
    result = ic_lpips(generated, training, config=config, network=network, device="cpu", progress=False)
    ours_time = time.perf_counter() - start
    members = np.minimum(result.cluster_sizes, config.max_members)
    member_pairs = int(np.sum(members * (members - 1) // 2))
    pairs = args.images * args.training + member_pairs
    print(
        f"  ours                {ours_time:8.1f} s   IC-LPIPS {result.value:.6f} "
        f"({int(np.sum(result.cluster_sizes > 0))} non-empty clusters)"
    )

    # Batches of 16 pairs, as batched reference code runs (DFMGAN batches the training set per image and the
    # rotated cluster members per step), so the extrapolation does not charge for batch-1 overheads.
    firsts = [as_tensor(generated[i : i + 32 : 2]) for i in range(0, 128, 32)]
    seconds = [as_tensor(generated[i + 1 : i + 32 : 2]) for i in range(0, 128, 32)]
    with torch.no_grad():
        network(firsts[0], seconds[0])
        start = time.perf_counter()
        for a, b in zip(firsts, seconds, strict=True):
            network(a, b)
    per_pair = (time.perf_counter() - start) / (16 * len(firsts))
    print(
        f"  per-pair baseline   {per_pair * pairs:8.0f} s   (extrapolated: {pairs} LPIPS pairs x "
        f"{per_pair * 1e3:.0f} ms)"
    )
    print(f"  speed-up            {per_pair * pairs / ours_time:8.1f} x (extrapolated)")

    small_generated, small_training = generated[: args.check_images], training[:4]
    check_config = ICLPIPSConfig(image_size=args.size, max_members=5)
    ours_small = ic_lpips(
        small_generated, small_training, config=check_config, network=network, device="cpu", progress=False
    ).value
    start = time.perf_counter()
    reference = baseline(network, small_generated, small_training, check_config.max_members)
    print(
        f"value check on {args.check_images} images: ours {ours_small:.8f}, per-pair baseline {reference:.8f} "
        f"(|diff| {abs(ours_small - reference):.1e}, baseline {time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
