"""Command line of defect-inspect: a thin layer over the library functions."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from defect_inspect import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="defect-inspect", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return 0
