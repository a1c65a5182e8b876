"""``defect-sample export``: a generation output folder, or a dataset through its reader, as COCO instance
JSON, YOLO segmentation labels or an anomalib Folder (the library: :mod:`defect_core.exports`).

The export folder appears whole or not at all, with export_index.jsonl (exported file -> source files) and
export_config.toml (the resolved settings). Regions are 8-connected per class; their polygons follow the
pixel edges, so pycocotools gives back the same pixels.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from defect_core.configs import add_config_arguments, command_parser, parse_config
from defect_core.errors import DefectfillError
from defect_core.exports import ExportConfig, run_export

EPILOG = """examples:
  defect-sample export --format coco synth/ --out synth_coco/
  defect-sample export --format yolo-seg synth/ --out synth_yolo/
  defect-sample export --format anomalib synth/ --out synth_anomalib/     # good/ from the source images
  defect-sample export --format coco /data/mvtec --dataset mvtec --object bottle --defects broken_large,contamination --out bottle_coco/
  defect-sample export --format yolo-seg /data/DS-MVTec --dataset defect-spectrum --object cable --out cable_yolo/
"""


class _SourceIfGiven(argparse.Action):
    """Set SOURCE only when it is given: an absent optional positional would otherwise override a config
    file's ``source`` (argparse hands the action its default, even ``SUPPRESS``, as a value)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values is not None and values != argparse.SUPPRESS:
            setattr(namespace, self.dest, Path(values))


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``defect-sample export``: SOURCE, ``--config`` and one flag per :class:`ExportConfig`
    field (``--object`` / ``--defects a,b`` for the dataset selection)."""
    parser = command_parser("defect-sample export", __doc__, EPILOG, quiet_help="warnings only")
    parser.add_argument(
        "source",
        nargs="?",
        action=_SourceIfGiven,
        default=argparse.SUPPRESS,
        metavar="SOURCE",
        help="generation output folder (with manifest.jsonl), or the dataset folder with --dataset",
    )
    add_config_arguments(parser, ExportConfig, skip=("source", "object_name", "defects"))
    parser.add_argument(
        "--object",
        "--object-name",
        dest="object_name",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="object of the dataset (with --dataset; may be left out when the dataset has one)",
    )
    parser.add_argument(
        "--defects",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help="defect categories of the dataset, comma-separated (default: all)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, export, print a summary; 1 on an input error (the message names the file), 2 on bad flags."""
    config, args = parse_config(ExportConfig, argv, build_parser())
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        summary = run_export(config)
    except (DefectfillError, ValueError) as exc:
        print(f"defect-sample export: error: {exc}", file=sys.stderr)
        return 1
    classes = ", ".join(f"{k}={name}" for k, name in summary.classes.items())
    print(
        f"{summary.format}: {summary.images} image(s), {summary.annotations} {summary.annotation_kind}(s), "
        f"{summary.normals} defect-free image(s), classes {classes} -> {summary.out_dir}"
    )
    return 0
