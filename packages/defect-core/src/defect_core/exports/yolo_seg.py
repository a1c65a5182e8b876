"""YOLO segmentation labels (Ultralytics' format): ``images/<stem>.<ext>``, ``labels/<stem>.txt``,
``data.yaml``.

One line per 8-connected region per class: ``<class index> x1 y1 x2 y2 ...``, the polygon of
:mod:`defect_core.exports.contours` (pixel edges, holes joined by zero-width cuts, since a line holds one
polygon) with x / width and y / height in [0, 1]. The class index is the class id - 1 (YOLO counts from 0);
``data.yaml`` names every index from 0 to the largest one (an id missing from the table gets a placeholder
name, so that YOLO's ``nc`` covers every index). An image without defect pixels gets an empty label file
(a background image for YOLO).

``data.yaml`` has no ``path`` key: Ultralytics then resolves ``images`` against the folder of the yaml file
itself, so the export can be moved; ``train`` and ``val`` both name the whole set (split it yourself).
"""

from __future__ import annotations

import json

from defect_core.atomic import write_text_atomic
from defect_core.exports.contours import region_polygon
from defect_core.exports.prepared import PreparedItem
from defect_core.exports.writer import ExportWriter, copy_file, register_format

LABELS_DIR = "labels"
DATA_YAML = "data.yaml"
COORDINATE_DECIMALS = 6
"""Enough for exact round trips: 6 decimals put a corner within 5e-7 x the side of its place, far inside the
fifth of a pixel that pycocotools rounds to, for images up to tens of thousands of pixels wide."""


def _coordinate(value: float) -> str:
    text = f"{value:.{COORDINATE_DECIMALS}f}".rstrip("0").rstrip(".")
    return text or "0"


def yolo_names(classes: dict[int, str]) -> dict[int, str]:
    """``{index: name}`` for indices 0 .. max id - 1 (index = id - 1; unused ids get ``unused_<id>``)."""
    top = max(classes, default=0)
    return {k - 1: classes.get(k, f"unused_{k}") for k in range(1, top + 1)}


@register_format("yolo-seg")
class YoloSegWriter(ExportWriter):
    """One label file per image; ``finish`` writes ``data.yaml``."""

    annotation_kind = "polygon"

    def add(self, item: PreparedItem) -> None:
        copy_file(item.image, self.image_path(item.stem))
        lines = []
        for region in item.regions:
            polygon = region_polygon(region.mask, region.top, region.left)
            coords = " ".join(
                f"{_coordinate(x / item.width)} {_coordinate(y / item.height)}" for x, y in polygon.tolist()
            )
            lines.append(f"{region.class_id - 1} {coords}")
        self.annotations_written += len(lines)
        write_text_atomic(
            self.folder / LABELS_DIR / f"{item.stem}.txt", "".join(line + "\n" for line in lines)
        )

    def finish(self) -> None:
        names = yolo_names(self.classes)
        # names as JSON strings: a JSON string is a valid YAML double-quoted scalar, whatever it holds
        lines = [
            "# YOLO segmentation dataset exported by defectfill; paths relative to this file's folder",
            f"train: {self.image_dir}",
            f"val: {self.image_dir}",
            f"nc: {len(names)}",
            "names:",
            *(f"  {index}: {json.dumps(name, ensure_ascii=False)}" for index, name in names.items()),
        ]
        write_text_atomic(self.folder / DATA_YAML, "\n".join(lines) + "\n")
