"""Running an export: the source, the class table, the staging folder, the writer, the index and the config.

>>> from defect_core.exports import ExportConfig, run_export
>>> run_export(ExportConfig(format="coco", source="synth/", out="synth_coco/"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from defect_core.atomic import write_text_atomic
from defect_core.configs import save_config
from defect_core.errors import DatasetError, InputFileError

# the format modules register themselves on import
from defect_core.exports import anomalib_folder, coco, yolo_seg  # noqa: F401
from defect_core.exports.class_tables import merged_class_table
from defect_core.exports.config import ExportConfig
from defect_core.exports.prepared import prepare_items
from defect_core.exports.sources import ExportSource, dataset_source, generation_source
from defect_core.exports.staging import staged_folder
from defect_core.exports.writer import writer_class
from defect_core.images import open_image

logger = logging.getLogger(__name__)

INDEX_NAME = "export_index.jsonl"
CONFIG_NAME = "export_config.toml"
PROGRESS_EVERY = 200  # items between two progress lines (core has no progress-bar dependency)


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: ``annotations`` counts ``annotation_kind``: COCO annotations, YOLO polygon lines
    or anomalib masks."""

    out_dir: Path
    format: str
    images: int
    annotations: int
    annotation_kind: str
    normals: int
    classes: dict[int, str]


def _check_normals(source: ExportSource) -> None:
    problems = []
    for path in source.normals:
        try:
            open_image(path)
        except InputFileError as exc:
            problems.append(exc)
    if problems:
        raise DatasetError(source.root, problems)


def export_source(
    source: ExportSource, format: str, out: str | Path, *, overwrite: bool = False, config: object = None
) -> ExportSummary:
    """Write ``source`` in the export ``format`` (``coco``, ``yolo-seg``, ``anomalib``) to the folder ``out``.

    The folder appears whole or not at all (:mod:`defect_core.exports.staging`); bad items are raised
    together as one :class:`DatasetError` naming every file. Beside the format's own files it holds
    ``export_index.jsonl`` (one line per item: exported image, source image, source labels or mask) and,
    when ``config`` is given, ``export_config.toml``.
    """
    writer_cls = writer_class(format)
    classes = merged_class_table([item.example.class_table for item in source.items])
    normals = source.normals if writer_cls.uses_normals else ()
    if normals:
        _check_normals(source)
    with staged_folder(out, overwrite=overwrite, protect=source.root) as staging:
        writer = writer_cls(staging, classes, source.items)
        index = []
        for item in prepare_items(source, classes):
            writer.add(item)
            if len(index) % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                logger.info("%d of %d item(s) exported", len(index) + 1, len(source.items))
            index.append(
                {
                    "stem": item.stem,
                    "image": writer.image_path(item.stem).relative_to(staging).as_posix(),
                    "source_image": str(item.image),
                    "source_labels": str(item.labels_file),
                }
            )
        n_normals = writer.add_normals(normals)
        writer.finish()
        write_text_atomic(staging / INDEX_NAME, "".join(json.dumps(line) + "\n" for line in index))
        if config is not None:
            save_config(config, staging / CONFIG_NAME)
    summary = ExportSummary(
        Path(out), format, len(index), writer.annotations_written, writer.annotation_kind, n_normals, classes
    )
    logger.info(
        "%s export of %d image(s), %d %s(s), %d defect-free image(s) -> %s",
        format,
        summary.images,
        summary.annotations,
        summary.annotation_kind,
        summary.normals,
        out,
    )
    return summary


def open_export_source(config: ExportConfig) -> ExportSource:
    """The source an :class:`ExportConfig` names: its generation output folder, or its dataset."""
    normals = config.normals and writer_class(config.format).uses_normals
    if config.dataset is None:
        return generation_source(config.source, normals=normals)
    return dataset_source(
        config.dataset,
        config.source,
        object_name=config.object_name,
        defects=config.defects,
        normals=normals,
        normals_root=config.normals_root,
    )


def run_export(config: ExportConfig) -> ExportSummary:
    """Export what ``config`` names; the resolved config is written into the export as export_config.toml."""
    return export_source(
        open_export_source(config), config.format, config.out, overwrite=config.overwrite, config=config
    )
