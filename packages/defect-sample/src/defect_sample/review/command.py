"""``defect-sample review``: serve the review page over a folder of normal images and an output folder.

Without the ``review`` extra the command says which extra to install and exits with status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from defect_core.configs import add_config_arguments, command_parser, parse_config
from defect_core.errors import DefectfillError
from defect_sample.review.config import ReviewConfig
from defect_sample.review.extras import MissingExtraError, require_gradio

EPILOG = """examples:
  defect-sample review --normals good/ --out synth/ --base-model builtin:texture --select psnr
  defect-sample review --normals good/ --out synth/ --concept crack.safetensors --real real_cracks/
  defect-sample review --normals good/ --out synth/ --concept crack.safetensors --host 0.0.0.0 --auth me:secret

Accepted candidates go to synth/defect, synth/mask and synth/manifest.jsonl (as defect-sample writes them),
every decision to synth/review.jsonl; start it again on the same --out to resume. The page reads only the
folders given here and writes only into --out.
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``defect-sample review``: ``--config`` and one flag per :class:`ReviewConfig` field."""
    parser = command_parser("defect-sample review", __doc__, EPILOG, quiet_help="warnings only")
    add_config_arguments(parser, ReviewConfig, skip=("concept",))
    parser.add_argument(
        "--concept",
        dest="concept",
        action="extend",
        nargs="+",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="concept file (.safetensors from defect-train); repeatable",
    )
    return parser


def exposure_warning(config: ReviewConfig) -> str | None:
    """The warning printed when the page is reachable from other machines, or None on 127.0.0.1."""
    if config.is_local:
        return None
    guard = (
        "it asks for the --auth user and password"
        if config.auth
        else "anyone who reaches it can read the offered images and write into --out; add --auth USER:PASS"
    )
    return (
        f"warning: serving on {config.host}:{config.port}, reachable from other machines; {guard}. "
        "The connection is plain HTTP."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, check the extra, load the model, serve until Ctrl-C; 1 on a missing extra or an input error."""
    config, args = parse_config(ReviewConfig, argv, build_parser())
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        require_gradio()
    except MissingExtraError as exc:
        print(f"defect-sample review: {exc}", file=sys.stderr)
        return 1
    if warning := exposure_warning(config):
        print(warning, file=sys.stderr)
    from defect_sample.review.app import build_review_app, launch_review_app
    from defect_sample.review.session import ReviewSession

    try:
        session = ReviewSession(config)
    except DefectfillError as exc:
        print(f"defect-sample review: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"defect-sample review: http://{config.host}:{config.port} (Ctrl-C stops it; decisions are saved as "
        f"they are made) -> {session.out_dir}"
    )
    launch_review_app(build_review_app(session), config, block=True, quiet=args.quiet)
    return 0
