"""Masks taken from a generation output folder (``--masks OUT`` where OUT holds ``manifest.jsonl`` and ``mask/``).

A Defect-Gen run (``defect-sample defectgen``) writes learned defect shapes with their class labels; used as
the ``--masks`` of a DefectFill job, those shapes are filled by a learned concept. The binary union is the
folder's ``mask/`` files; ``--mask-class NAME`` takes only that class's pixels from ``labels/``. Items whose
mask (or class) is empty are left out: an empty mask has nothing to fill.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from defect_core.class_labels import load_labels
from defect_core.errors import InputFileError
from defect_core.images import load_mask
from defect_core.manifest import MANIFEST_NAME, read_manifest
from defect_core.output_layout import MASK_DIR
from defect_core.sample_record import SampleRecord

logger = logging.getLogger(__name__)


def is_generation_output(folder: str | Path) -> bool:
    """True when ``folder`` is an output folder of defect-sample (``manifest.jsonl`` beside ``mask/``)."""
    folder = Path(folder)
    return (folder / MANIFEST_NAME).is_file() and (folder / MASK_DIR).is_dir()


def _records(folder: Path) -> list[SampleRecord]:
    records = [r for r in read_manifest(folder / MANIFEST_NAME) if r.mask.is_file()]
    if not records:
        raise InputFileError(folder / MANIFEST_NAME, "lists no item whose mask file exists")
    return records


def generation_class_table(folder: str | Path) -> dict[int, str]:
    """The class table of a generation output folder (the union of its records' tables; {} for binary items).

    Two records that give one id two names raise :class:`InputFileError` naming the manifest.
    """
    folder = Path(folder)
    table: dict[int, str] = {}
    for record in _records(folder):
        for k, name in record.classes.items():
            if table.setdefault(k, name) != name:
                raise InputFileError(
                    folder / MANIFEST_NAME,
                    f"class id {k} is {table[k]!r} in one item and {name!r} in {record.item_id}",
                )
    return dict(sorted(table.items()))


def generation_class_id(folder: str | Path, class_name: str) -> int:
    """The id of ``class_name`` in the class table of the generation output ``folder``; a name that is not
    there raises :class:`InputFileError` naming the folder and listing its classes."""
    folder = Path(folder)
    if not is_generation_output(folder):
        raise InputFileError(
            folder,
            f"--mask-class {class_name!r} needs a generation output folder as --masks (manifest.jsonl, "
            "mask/ and labels/, as defect-sample defectgen writes)",
        )
    table = generation_class_table(folder)
    ids = [k for k, name in table.items() if name == class_name]
    if not ids:
        known = ", ".join(table.values()) if table else "none: its items have no class labels"
        raise InputFileError(folder, f"class {class_name!r} is not in this folder's class table ({known})")
    return ids[0]


def read_job_mask(path: str | Path, threshold: int, class_id: int | None = None) -> np.ndarray:
    """A job's mask as bool (H, W): a mask file (gray >= ``threshold``), or with ``class_id`` the pixels of
    that class in a class-index label file."""
    if class_id is None:
        return load_mask(path, threshold=threshold)
    return load_labels(path) == class_id


def generation_output_masks(folder: str | Path, class_id: int | None = None) -> tuple[Path, ...]:
    """The mask files of a generation output folder, in manifest order: its ``mask/`` files (binary union),
    or with ``class_id`` its ``labels/`` files that hold that class (read them with :func:`read_job_mask`).

    Items with an empty mask are left out (logged); none left raises :class:`InputFileError`.
    """
    folder = Path(folder)
    paths: list[Path] = []
    empty = 0
    for record in _records(folder):
        if class_id is None:
            path = record.mask
        elif record.labels is None or not record.labels.is_file():
            empty += 1
            continue
        else:
            path = record.labels
        if read_job_mask(path, 1, class_id).any():  # mask/ files are 0 / 255: any threshold in 1..255 agrees
            paths.append(path)
        else:
            empty += 1
    if empty:
        logger.info(
            "%s: left out %d item(s) without defect pixels%s",
            folder,
            empty,
            "" if class_id is None else f" of class {class_id}",
        )
    if not paths:
        what = "defect pixels" if class_id is None else f"pixels of class {class_id}"
        raise InputFileError(folder, f"no item of this generation output folder has {what}")
    return tuple(paths)
