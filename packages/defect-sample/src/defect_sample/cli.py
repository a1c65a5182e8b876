"""defect-sample: fill learned defect concepts (or described defects) into defect-free images.

Writes out/defect/*.png, out/mask/*.png, manifest.jsonl, preview.png and config.toml; a folder that
anomalib's Folder datamodule reads as it is. Run it again with the same settings to resume.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from defect_core.configs import add_config_arguments, command_parser, parse_config
from defect_core.errors import DefectfillError
from defect_sample import __version__
from defect_sample.config import SampleConfig

logger = logging.getLogger(__name__)

EPILOG = """examples:
  defect-sample --concept crack.safetensors --normals good/ --masks held_out_masks/ --out synth/
  defect-sample --concept crack.safetensors --concept scratch.safetensors --normals good/ \\
      --shapes star,ellipse,scratch --shape-size 0.05 0.2 --count 200 --select psnr --out synth/
  defect-sample --prompt "white marks on the wall" --base-model ./sd2-inpainting --normals good/ \\
      --shapes blob --out diag/       # zero-shot: DIAG's steps, guidance, strength, negative prompt
  defect-sample --preset diag --prompt "copper metal scratches" --normals ksdd2_train_negatives/ \\
      --masks ksdd2_train_masks/ --count 50 --out diag_copper/     # DIAG's whole setting (SDXL, 1024²)
  defect-sample --config sample.toml --shard 0/4          # one of four machines
  torchrun --nproc-per-node 4 -m defect_sample.cli --config sample.toml   # four GPUs of one machine
  defect-sample review --normals good/ --out synth/ --concept crack.safetensors   # review app (see review --help)
  defect-sample export --format coco synth/ --out synth_coco/   # COCO / yolo-seg / anomalib (see export --help)
  defect-sample defectgen --generator gen/ --count 1000 --out synth/   # Defect-Gen (see defectgen --help)
"""


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: ``--config``, one flag per :class:`SampleConfig` field, ``--version``."""
    parser = command_parser("defect-sample", __doc__, EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_config_arguments(parser, SampleConfig, skip=("concept", "shapes"))
    parser.add_argument(
        "--concept",
        dest="concept",
        action="extend",
        nargs="+",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="concept file (.safetensors from defect-train); repeat for several concepts",
    )
    parser.add_argument(
        "--shapes",
        dest="shapes",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help="generated mask shapes, comma-separated (e.g. star,ellipse,scratch), placed on the "
        "object's foreground",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the job, print a summary; 1 on an input error (message names the file)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["review"]:  # the browser review app (the review extra): its own flags
        from defect_sample.review.command import main as review_main

        return review_main(argv[1:])
    if argv[:1] == ["export"]:  # COCO / YOLO-seg / anomalib export of an output folder or a dataset
        from defect_sample.export_command import main as export_main

        return export_main(argv[1:])
    if argv[:1] == ["defectgen"]:  # Defect-Gen sampling: image and class labels from a generator folder
        from defect_sample.defectgen.command import main as defectgen_main

        return defectgen_main(argv[1:])
    parser = build_parser()
    config, args = parse_config(SampleConfig, argv, parser)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    from defect_sample.generate import run_generation

    try:
        summary = run_generation(config, progress=not args.quiet)
    except DefectfillError as exc:
        print(f"defect-sample: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{summary.written} image(s) written, {summary.skipped} already done, "
        f"{summary.assigned} of {summary.planned} planned item(s) in this process -> {summary.out_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
