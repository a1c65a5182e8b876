"""``defect-train``: learn a defect concept from a few defect image + mask pairs (DefectFill).

With no arguments it trains briefly on the built-in demo data with ``builtin:tiny`` (the README's first
command). ``--config FILE.toml`` sets the defaults; explicit flags win.

``defect-train defectgen [...]`` trains a Defect-Gen generator instead (``defect-train defectgen --help``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from defect_core.configs import add_config_arguments, parse_config
from defect_core.errors import DefectfillError
from defect_train import __version__
from defect_train.config import DEMO_PRESET, TrainConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defect-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="FILE.toml", help="TOML file whose keys set the defaults of the flags"
    )
    parser.add_argument(
        "--object", dest="object_name", default=argparse.SUPPRESS, help="alias of --object-name"
    )
    parser.add_argument(
        "--defect", dest="defect_name", default=argparse.SUPPRESS, help="alias of --defect-name"
    )
    add_config_arguments(parser, TrainConfig)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["defectgen"]:  # the one subcommand; every other command line is DefectFill's, as before
        from defect_train.defectgen.cli import main as defectgen_main

        return defectgen_main(argv[1:])
    parser = build_parser()
    config, args = parse_config(TrainConfig, argv, parser)
    # in a multi-process launch the other processes would repeat every line of the main one (RANK 0)
    quiet_rank = int(os.environ.get("RANK", "0") or 0) > 0
    logging.basicConfig(
        level=logging.WARNING if quiet_rank else logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(message)s",
    )
    if config.dataset == "demo" and not args.config:
        # the demo preset only fills in what the user did not say
        given = {k for k in vars(args) if k in DEMO_PRESET}
        config = replace(config, **{k: v for k, v in DEMO_PRESET.items() if k not in given})
    from defect_train.trainer import TrainingInterrupted, train_concept

    try:
        concept = train_concept(config)
    except TrainingInterrupted as exc:
        print(f"defect-train: {exc}", file=sys.stderr)
        return 130
    except (DefectfillError, ValueError) as exc:  # NonFiniteLossError is a DefectfillError
        print(f"defect-train: error: {exc}", file=sys.stderr)
        return 2
    if quiet_rank:
        return 0
    run = config.output_dir
    print(
        f"concept:  {concept}\npreview:  {run / 'preview.png'}\nloss log: {run / 'loss.csv'} "
        f"(plot: {run / 'loss.png'})\nconfig:   {run / 'config.toml'}\nlog:      {run / 'train.log'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
