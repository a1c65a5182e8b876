"""COCO instance segmentation: ``images/<stem>.<ext>`` and ``annotations.json``.

One annotation per 8-connected region per class (:mod:`defect_core.exports.regions`), its ``segmentation``
one polygon along the pixel edges with holes joined by zero-width cuts (:mod:`defect_core.exports.contours`):
pycocotools' ``annToMask`` gives back the region's pixels exactly. ``area`` is the pixel count, ``bbox`` the
pixel extent ``[x, y, width, height]``, ``iscrowd`` 0; category ids are the class ids of the export's table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from defect_core.atomic import write_text_atomic
from defect_core.exports.contours import region_polygon
from defect_core.exports.prepared import PreparedItem
from defect_core.exports.sources import ExportItem
from defect_core.exports.writer import ExportWriter, copy_file, register_format

ANNOTATIONS_NAME = "annotations.json"
SUPERCATEGORY = "defect"


@register_format("coco")
class CocoWriter(ExportWriter):
    """Collects images and annotations; ``finish`` writes ``annotations.json``."""

    def __init__(self, folder: Path, classes: Mapping[int, str], items: Sequence[ExportItem]) -> None:
        super().__init__(folder, classes, items)
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, item: PreparedItem) -> None:
        target = copy_file(item.image, self.image_path(item.stem))
        image_id = len(self.images) + 1
        self.images.append(
            {"id": image_id, "file_name": target.name, "width": item.width, "height": item.height}
        )
        for region in item.regions:
            polygon = region_polygon(region.mask, region.top, region.left)
            self.annotations.append(
                {
                    "id": len(self.annotations) + 1,
                    "image_id": image_id,
                    "category_id": region.class_id,
                    "segmentation": [polygon.ravel().tolist()],
                    "area": region.area,
                    "bbox": list(region.bbox),
                    "iscrowd": 0,
                }
            )
        self.annotations_written = len(self.annotations)

    def finish(self) -> None:
        from defect_core import __version__

        document = {
            "info": {"description": "defect images exported by defectfill", "version": __version__},
            "licenses": [],
            "images": self.images,
            "annotations": self.annotations,
            "categories": [
                {"id": k, "name": name, "supercategory": SUPERCATEGORY} for k, name in self.classes.items()
            ],
        }
        write_text_atomic(self.folder / ANNOTATIONS_NAME, json.dumps(document, separators=(",", ":")))
