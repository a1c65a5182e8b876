"""KID on 10 000 x 2048 features vs. clean-fid's ``kernel_distance`` in the same process.

Two cases:
- N = 10 000 per side, 100 subsets of 1000: both do the same 300 (1000 x 2048) products, so the time is
  BLAS-bound; ours always computes in float64 (clean-fid in the input's dtype) and also returns the std.
  The subsets are random in both, so the means agree statistically, not to the digit.
- N = subset size (the usual case for defect sets of a few hundred images): every subset is the whole set;
  ours computes it once, clean-fid 100 times; the values must agree to 1e-9.

Features are non-negative like Inception pool features. Run:
``uv run python packages/defect-metrics/bench/bench_kid.py``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from cleanfid.fid import kernel_distance

from defect_metrics import kid


def timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--whole-n", type=int, default=1000, help="set size of the subset = whole set case")
    parser.add_argument("--device", help="also time ours with torch on this device (e.g. cuda)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    real = np.abs(rng.normal(size=(args.n, args.dim))).astype(np.float32)
    fake = (1.05 * np.abs(rng.normal(size=(args.n, args.dim)))).astype(np.float32)
    print(f"{args.n} x {args.dim} features per side, {args.subsets} subsets of 1000")

    ours_time, ours = timed(lambda: kid(real, fake, subsets=args.subsets, subset_size=1000))
    np.random.seed(0)
    ref32_time, ref32 = timed(lambda: kernel_distance(real, fake, num_subsets=args.subsets))
    np.random.seed(0)
    real64, fake64 = real.astype(np.float64), fake.astype(np.float64)
    ref64_time, ref64 = timed(lambda: kernel_distance(real64, fake64, num_subsets=args.subsets))
    print(f"  ours (float64)              {ours_time:7.2f} s   KID {ours.mean:.6e} ± {ours.std:.1e}")
    print(f"  clean-fid, float32 input    {ref32_time:7.2f} s   KID {ref32:.6e}")
    print(f"  clean-fid, float64 input    {ref64_time:7.2f} s   KID {ref64:.6e}")
    print(f"  ratio clean-fid64 / ours    {ref64_time / ours_time:7.2f} x")
    if args.device:
        kid(real[:100], fake[:100], subsets=1, subset_size=50, device=args.device)  # warm-up
        device_time, on_device = timed(
            lambda: kid(real, fake, subsets=args.subsets, subset_size=1000, device=args.device)
        )
        print(
            f"  ours on {args.device:<19} {device_time:7.2f} s   KID {on_device.mean:.6e} (same subsets: |diff| "
            f"{abs(on_device.mean - ours.mean):.1e})"
        )

    small_real, small_fake = real64[: args.whole_n], fake64[: args.whole_n]
    ours_time, ours = timed(lambda: kid(small_real, small_fake, subsets=args.subsets, subset_size=1000))
    ref_time, ref = timed(lambda: kernel_distance(small_real, small_fake, num_subsets=args.subsets))
    print(f"{args.whole_n} x {args.dim} features per side (subset = whole set)")
    print(f"  ours                        {ours_time:7.2f} s   KID {ours.mean:.12e}")
    print(
        f"  clean-fid                   {ref_time:7.2f} s   KID {ref:.12e}   |diff| {abs(ours.mean - ref):.1e}"
    )
    print(f"  speed-up                    {ref_time / ours_time:7.1f} x")


if __name__ == "__main__":
    main()
