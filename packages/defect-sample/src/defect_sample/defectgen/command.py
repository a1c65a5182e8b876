"""``defect-sample defectgen``: sample a Defect-Gen generator into the usual output folder.

Writes out/defect/*.png (images), out/mask/*.png (binary union of the classes, 0 / 255), out/labels/*.png
(class ids), out/labels_color/*.png, manifest.jsonl (class table, seed, generator hashes), preview.png
(image | colour label overlay) and config.toml. Run it again with the same settings to resume.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from defect_core.configs import add_config_arguments, command_parser, parse_config
from defect_core.errors import DefectfillError
from defect_sample.defectgen.config import DefectGenSampleConfig

EPILOG = """examples:
  defect-sample defectgen --generator gen/ --count 1000 --out synth/
  defect-sample defectgen --generator gen/ --count 200 --steps 100 --out synth/          # DDIM, 100 steps
  defect-sample defectgen --generator gen/ --count 1000 --out synth/ --shard 0/4        # one of four machines
  defect-sample --concept crack.safetensors --normals good/ --masks synth/ --mask-class crack --out filled/
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``defect-sample defectgen``: ``--config`` and one flag per config field."""
    parser = command_parser("defect-sample defectgen", __doc__, EPILOG)
    add_config_arguments(parser, DefectGenSampleConfig)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the job, print a summary; 1 on an input error (the message names the file)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    config, args = parse_config(DefectGenSampleConfig, argv, build_parser())
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    from defect_sample.defectgen.job import run_defectgen

    try:
        summary = run_defectgen(config, progress=not args.quiet)
    except (DefectfillError, ValueError) as exc:
        print(f"defect-sample defectgen: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{summary.written} image(s) written, {summary.skipped} already done, "
        f"{summary.assigned} of {summary.planned} planned item(s) in this process -> {summary.out_dir}"
    )
    return 0
