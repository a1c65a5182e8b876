"""``defect-train defectgen``: train Defect-Gen's two networks on one object's defect images and write a generator
folder that ``defect-sample defectgen`` samples from (Defect Spectrum, Yang et al. ECCV 2024).

With ``--dataset demo`` (the default) and no ``--config`` it trains the cpu-size pair at 64 px for 300 steps
per network on the built-in demo brick (a few minutes on two CPU cores); other datasets get the paper's
settings. ``--config FILE.toml`` sets the defaults; explicit flags win.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import fields

from defect_core.configs import add_config_arguments, build_config, parse_config
from defect_core.errors import DefectfillError
from defect_train.defectgen.config import DEMO_PRESET, DefectGenTrainConfig

PROG = "defect-train defectgen"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", metavar="FILE.toml", help="TOML file whose keys set the defaults of the flags"
    )
    parser.add_argument(
        "--object", dest="object_name", default=argparse.SUPPRESS, help="alias of --object-name"
    )
    add_config_arguments(parser, DefectGenTrainConfig)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if k in {f.name for f in fields(DefectGenTrainConfig)}}
    if not args.config and given.get("dataset", DefectGenTrainConfig.dataset) == "demo":
        # the demo preset sits between the defaults and the flags: it fills in what the user did not say
        try:
            config = build_config(DefectGenTrainConfig, DEMO_PRESET, given)
        except ValueError as exc:
            parser.error(str(exc))
    else:
        config, args = parse_config(DefectGenTrainConfig, argv, parser)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    from defect_train.defectgen.trainer import MANIFEST, PREVIEW, train_defectgen
    from defect_train.interrupt import TrainingInterrupted

    try:
        generator = train_defectgen(config)
    except TrainingInterrupted as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 130
    except (DefectfillError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    run = config.output_dir
    print(
        f"generator: {generator}\npreview:   {run / PREVIEW}\nloss logs: {run / 'large' / 'loss.csv'}, "
        f"{run / 'small' / 'loss.csv'}\nconfig:    {run / 'config.toml'}\nmanifest:  {run / MANIFEST}\n"
        f"log:       {run / 'train.log'}\nsample:    defect-sample defectgen --generator {generator} "
        "--count 16 --out <folder>"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
