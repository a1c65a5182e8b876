"""Real data from a dataset reader: the defect split of DESIGN.md §3 and the defect-free images.

The real defects of each category are split by defect-core (first ``len // 3`` by file name train, the rest
held out); inspection models are tested on the held-out two thirds, as in DefectFill and AnomalyDiffusion.
A dataset with an official test split (KSDD2) can instead be tested on it (``"test"``, DIAG's protocol;
:mod:`defect_core.datasets.split_selection`).
Datasets are opened by kind through :func:`defect_core.datasets.open_dataset` (every kind of
``DATASET_KINDS``, the built-in ``demo`` and ``surface-strips`` included).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from defect_core.datasets import DatasetReader, open_dataset
from defect_core.datasets.split_selection import RealSplit, select_real_examples
from defect_core.errors import InputFileError
from defect_core.images import list_images
from defect_inspect.data.items import GOOD, InspectionItem

logger = logging.getLogger(__name__)


def open_real_dataset(
    kind: str,
    root: str | Path | None,
    object_name: str | None,
    defects: Sequence[str] = (),
    normals_root: str | Path | None = None,
) -> DatasetReader:
    """The dataset of an inspect command: ``open_dataset`` with the command's options. A ``folder`` dataset
    holds one defect category, which the command names as its only ``--defects`` entry; ``normals_root`` is
    where a dataset without defect-free images finds them (Defect Spectrum: the MVTec AD tree)."""
    defect_name = defects[0] if len(defects) == 1 else None
    options = {"normals_root": normals_root} if normals_root is not None else {}
    return open_dataset(kind, root, object_name=object_name, defect_name=defect_name, **options)


def resolve_defects(reader: DatasetReader, object_name: str, defects: Sequence[str] = ()) -> list[str]:
    """``defects`` checked against the object's defect categories (all of them when empty), sorted."""
    available = reader.defect_names(object_name)
    if not defects:
        if not available:
            raise ValueError(f"object {object_name!r} in {reader.root} has no defect categories")
        return available
    for name in defects:
        reader.require_defect(object_name, name)
    return sorted(set(defects))


def real_defect_items(
    reader: DatasetReader,
    object_name: str,
    split: RealSplit,
    defects: Sequence[str] = (),
    split_rule: str = "auto",
) -> list[InspectionItem]:
    """The real defect images of one side of the split (``"train"``, ``"held_out"`` or ``"all"``) under
    ``split_rule`` (``"auto"``: the reader's, i.e. the DefectFill protocol of the dataset), or of the
    dataset's official test split (``"test"``)."""
    items: list[InspectionItem] = []
    for defect in resolve_defects(reader, object_name, defects):
        examples = select_real_examples(reader, object_name, defect, split, split_rule)
        items += [
            InspectionItem(
                e.image,
                e.mask,
                e.defect_name,
                "real",
                mask_threshold=e.mask_threshold,
                labels=e.labels,
                classes=dict(e.classes) if e.labels is not None else {},
            )
            for e in examples
        ]
    return items


def normal_items(reader: DatasetReader, object_name: str, split: str) -> list[InspectionItem]:
    """The defect-free images of ``split`` ("train" or "test"; KSDD2: its train/ and test/ folders) as
    :data:`GOOD` items."""
    return [InspectionItem(p, None, GOOD, "normal") for p in reader.normal_images(object_name, split)]


def folder_normal_items(folder: str | Path) -> list[InspectionItem]:
    """The images directly inside ``folder`` as :data:`GOOD` items (an empty folder is an error)."""
    images = list_images(folder)
    if not images:
        raise InputFileError(
            folder, "holds no images (png, jpg, bmp, tif, webp) to use as defect-free images"
        )
    return [InspectionItem(p, None, GOOD, "normal") for p in images]
