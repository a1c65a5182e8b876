"""Reading and checking every item of an export: its image size, its labels in the export's class ids, and
(on demand) its regions. Bad items are collected and raised together, naming every file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from defect_core.class_labels import unknown_ids
from defect_core.errors import DatasetError, InputFileError
from defect_core.exports.class_tables import id_lookup
from defect_core.exports.regions import Region, find_regions
from defect_core.exports.sources import ExportSource
from defect_core.images import open_image


@dataclass
class PreparedItem:
    """One checked item: ``labels`` is uint8 (height, width) in the export's class ids (0 = background)."""

    stem: str
    image: Path
    labels_file: Path
    width: int
    height: int
    labels: np.ndarray = field(repr=False)

    @cached_property
    def regions(self) -> list[Region]:
        """The 8-connected regions of every class (:func:`~defect_core.exports.regions.find_regions`)."""
        return find_regions(self.labels)


def prepare_items(source: ExportSource, export_table: Mapping[int, str]) -> Iterator[PreparedItem]:
    """Yield every good item of ``source`` with its labels mapped into ``export_table``; after the last one,
    raise :class:`DatasetError` listing every bad file: an unreadable image or label file, labels whose size
    differs from the image, or pixel values that are no class id of the item."""
    problems: list[InputFileError] = []
    for item in source.items:
        example = item.example
        labels_file = example.labels or example.mask
        try:
            width, height = open_image(example.image).size
            labels = example.load_labels()
        except InputFileError as exc:
            problems.append(exc)
            continue
        if labels.shape != (height, width):
            problems.append(
                InputFileError(
                    labels_file,
                    f"labels are {labels.shape[1]}x{labels.shape[0]} but the image {example.image.name} is "
                    f"{width}x{height}",
                )
            )
            continue
        table = example.class_table
        unknown = unknown_ids(labels, table)
        if unknown:
            problems.append(
                InputFileError(labels_file, f"pixel value(s) {unknown} are no class id of {table}")
            )
            continue
        mapped = id_lookup(table, export_table)[labels]
        yield PreparedItem(item.stem, example.image, labels_file, width, height, mapped)
    if problems:
        raise DatasetError(source.root, problems)
