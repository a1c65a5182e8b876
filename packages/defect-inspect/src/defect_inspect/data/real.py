"""Real data from a dataset reader: the defect split of DESIGN.md §3 and the defect-free images.

The real defects of each category are split by defect-core (first ``len // 3`` by file name train, the rest
held out); inspection models are tested on the held-out two thirds, as in DefectFill and AnomalyDiffusion.
``"demo"`` and ``"surface-strips"`` name the built-in datasets (:mod:`defect_core.builtin_datasets`: MVTec
layout, written on first use; they need ``defect-core[demo]``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from defect_core.builtin_datasets import BUILTIN_DATASETS, builtin_dataset_root, is_builtin_dataset
from defect_core.datasets import DatasetReader, available_readers, create_reader
from defect_core.errors import InputFileError
from defect_core.images import list_images
from defect_core.splits import SplitName, select_split
from defect_inspect.data.items import GOOD, InspectionItem

logger = logging.getLogger(__name__)




def dataset_kinds() -> list[str]:
    """Dataset kinds that :func:`open_dataset` accepts: the defect-core readers and the built-in datasets."""
    return sorted([*BUILTIN_DATASETS, *available_readers()])


def open_dataset(kind: str, root: str | Path | None, object_name: str | None = None) -> DatasetReader:
    """The reader of a dataset folder (``root`` is ignored for a built-in dataset).

    A plain ``"folder"`` dataset names neither object nor defect: its object is ``object_name`` and its
    defect is the folder's name.
    """
    if is_builtin_dataset(kind):
        return create_reader("mvtec", builtin_dataset_root(kind))
    if root is None:
        raise ValueError(f"dataset {kind!r} needs a root folder (--dataset-root DIR)")
    if kind == "folder":
        if not object_name:
            raise ValueError("dataset 'folder' needs an object name (--object-name NAME)")
        return create_reader(kind, root, object_name=object_name, defect_name=Path(root).resolve().name)
    return create_reader(kind, root)


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
    reader: DatasetReader, object_name: str, split: SplitName, defects: Sequence[str] = ()
) -> list[InspectionItem]:
    """The real defect images of one side of the split (``"train"``, ``"held_out"`` or ``"all"``)."""
    items: list[InspectionItem] = []
    for defect in resolve_defects(reader, object_name, defects):
        examples = select_split(reader.defect_examples(object_name, defect), split)
        items += [
            InspectionItem(e.image, e.mask, e.defect_name, "real", mask_threshold=e.mask_threshold) for e in examples
        ]
    return items


def normal_items(reader: DatasetReader, object_name: str, split: str) -> list[InspectionItem]:
    """The defect-free images of ``split`` ("train" or "test") as :data:`GOOD` items."""
    return [InspectionItem(p, None, GOOD, "normal") for p in reader.normal_images(object_name, split)]


def folder_normal_items(folder: str | Path) -> list[InspectionItem]:
    """The images directly inside ``folder`` as :data:`GOOD` items (an empty folder is an error)."""
    images = list_images(folder)
    if not images:
        raise InputFileError(folder, "holds no images (png, jpg, bmp, tif, webp) to use as defect-free images")
    return [InspectionItem(p, None, GOOD, "normal") for p in images]
