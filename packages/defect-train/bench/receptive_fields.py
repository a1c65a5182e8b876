"""Receptive fields of Defect-Gen's two networks, at the paper's 256 px and at the cpu pair's 64 px.

The method rests on them differing (DESIGN.md §4b): the large network's output pixel sees the whole image,
the small one's a patch. Printed per network: the extent of non-zero gradient of the centre output pixel with
respect to the input (the theoretical receptive field, clipped by the image) and the side of the centred
square holding 95 % of the gradient's absolute mass (the effective receptive field at initialisation);
:mod:`defect_train.defectgen.receptive_field` says how (GroupNorm statistics held constant).

    uv run python packages/defect-train/bench/receptive_fields.py [--sizes paper cpu] [--channels 6]
"""

from __future__ import annotations

import argparse
import time

import torch

from defect_train.defectgen.networks import UNET_SPECS, build_unet
from defect_train.defectgen.receptive_field import measure_receptive_field

RESOLUTION = {"paper": 256, "cpu": 64}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", choices=tuple(RESOLUTION), default=["cpu", "paper"])
    parser.add_argument("--channels", type=int, default=6, help="sample channels (3 + 1 + classes)")
    parser.add_argument(
        "--mass", type=float, default=0.95, help="share of the gradient for the effective size"
    )
    args = parser.parse_args()
    print(
        f"{'size':6} {'network':8} {'params':>8} {'image':>7} {'extent (non-zero gradient)':>27} {'effective':>10}"
    )
    for size in args.sizes:
        resolution = RESOLUTION[size]
        for role in ("large", "small"):
            torch.manual_seed(0)
            net = build_unet(UNET_SPECS[(size, role)], args.channels, resolution)
            start = time.perf_counter()
            rf = measure_receptive_field(net, resolution, mass=args.mass)
            extent = f"{rf.extent[0]} x {rf.extent[1]}" + (" (whole)" if rf.covers_image else "")
            print(
                f"{size:6} {role:8} {sum(p.numel() for p in net.parameters()) / 1e6:7.1f}M {resolution:5d}px "
                f"{extent:>27} {rf.effective:>7d} px   ({time.perf_counter() - start:.0f} s)"
            )


if __name__ == "__main__":
    main()
