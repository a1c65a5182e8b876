"""Exports of defect images with their labels to other tools' formats (no torch).

- COCO instance JSON (``coco``), YOLO segmentation labels (``yolo-seg``), an anomalib Folder (``anomalib``):
  :mod:`~defect_core.exports.coco`, :mod:`~defect_core.exports.yolo_seg`,
  :mod:`~defect_core.exports.anomalib_folder`, one writer each (:mod:`~defect_core.exports.writer`).
- Sources: a generation output folder or a dataset through its reader (:mod:`~defect_core.exports.sources`).
- Regions (8-connected, per class) and their pixel-edge polygons, exact under pycocotools' rasteriser:
  :mod:`~defect_core.exports.regions`, :mod:`~defect_core.exports.contours`.

:func:`run_export` does it all from an :class:`ExportConfig` (what ``defect-sample export`` calls).
"""

from __future__ import annotations

from defect_core.exports.class_tables import merged_class_table
from defect_core.exports.config import EXPORT_FORMAT_NAMES, ExportConfig
from defect_core.exports.contours import region_polygon
from defect_core.exports.regions import Region, find_regions
from defect_core.exports.run import ExportSummary, export_source, open_export_source, run_export
from defect_core.exports.sources import ExportItem, ExportSource, dataset_source, generation_source
from defect_core.exports.writer import available_formats

__all__ = [
    "EXPORT_FORMAT_NAMES",
    "ExportConfig",
    "ExportItem",
    "ExportSource",
    "ExportSummary",
    "Region",
    "available_formats",
    "dataset_source",
    "export_source",
    "find_regions",
    "generation_source",
    "merged_class_table",
    "open_export_source",
    "region_polygon",
    "run_export",
]
