"""Reading a generation output folder (DESIGN.md §3: ``defect/``, ``mask/``, ``manifest.jsonl``) as items.

The defect name of each image comes from its ``manifest.jsonl`` record (a folder may hold several defect
types when defect-sample ran several concepts at once). A folder without a manifest (written by another
tool, or by :mod:`defect_inspect.data.cut_paste`) pairs ``defect/<stem>.*`` with ``mask/<stem>.*`` and
takes the defect name from the caller, or else from the folder's own name.

Records with defect classes (Defect-Gen's outputs) also name a class-index label image (``labels/``) and
its class table; their items carry both, which ``--classes multi`` trains on (the binary tasks read the
mask, the union of the classes).
"""

from __future__ import annotations

import logging
from pathlib import Path

from defect_core.datasets import validate_pairs
from defect_core.errors import DatasetError, InputFileError
from defect_core.images import list_images
from defect_core.manifest import MANIFEST_NAME, read_manifest
from defect_core.output_layout import DEFECT_DIR, MASK_DIR
from defect_inspect.data.cut_paste import PROVENANCE_NAME as CUT_PASTE_PROVENANCE
from defect_inspect.data.items import GOOD, InspectionItem

logger = logging.getLogger(__name__)


def is_generation_output(folder: str | Path) -> bool:
    """True when ``folder`` has the ``defect/`` and ``mask/`` subfolders of a generation output."""
    folder = Path(folder)
    return (folder / DEFECT_DIR).is_dir() and (folder / MASK_DIR).is_dir()


NO_DEFECT_NAME = "none"
"""What a class-labelled generator (Defect-Gen) names an image in which it drew no defect pixel."""


def _pairs_from_manifest(folder: Path) -> list[tuple[Path, Path, str]]:
    records = read_manifest(folder / MANIFEST_NAME)
    # Defect-Gen draws the mask with the image, and sometimes draws none: such an image is no defect example
    empty = [r for r in records if r.classes and r.defect_name == NO_DEFECT_NAME]
    if empty:
        logger.info("%s: leaving out %d generated image(s) without a defect pixel", folder, len(empty))
    return [
        (r.image, r.mask, r.defect_name)
        for r in records
        if not (r.classes and r.defect_name == NO_DEFECT_NAME)
    ]


def _labels_from_manifest(folder: Path) -> dict[Path, tuple[Path, dict[int, str]]]:
    """image -> (label image, class table) of the records that have classes; a missing label file is an
    error naming it."""
    labelled = {
        r.image: (r.labels, dict(r.classes))
        for r in read_manifest(folder / MANIFEST_NAME)
        if r.labels is not None
    }
    missing = [
        InputFileError(labels, "label image of a manifest record does not exist")
        for labels, _ in labelled.values()
        if not labels.is_file()
    ]
    if missing:
        raise DatasetError(folder, missing)
    return labelled


def _pairs_by_stem(folder: Path, defect_name: str) -> list[tuple[Path, Path, str]]:
    images = list_images(folder / DEFECT_DIR)
    masks = {p.stem: p for p in list_images(folder / MASK_DIR)}
    problems = [
        InputFileError(image, f"has no mask named {image.stem}.* in {folder / MASK_DIR}")
        for image in images
        if image.stem not in masks
    ]
    if problems:
        raise DatasetError(folder, problems)
    return [(image, masks[image.stem], defect_name) for image in images]


def read_generation_output(
    folder: str | Path, *, defect_name: str | None = None, mask_threshold: int = 128
) -> list[InspectionItem]:
    """Every generated (image, mask) of ``folder`` as a defect item (``source="generated"``, or
    ``"cut-paste"`` for a folder that ``write_cut_paste_set`` wrote), sorted by file.

    ``defect_name`` overrides the manifest's names (and names the defect of a folder without a manifest;
    default: the folder's name). Every pair is checked (files exist and decode, same size, non-empty mask);
    all problems are raised together as one :class:`~defect_core.errors.DatasetError` naming the files.
    Images of a class-labelled generator named ``"none"`` (Defect-Gen drew no defect pixel) are left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "generation output folder does not exist")
    if not is_generation_output(folder):
        raise InputFileError(
            folder,
            f"is not a generation output folder: it needs {DEFECT_DIR}/ and {MASK_DIR}/ subfolders "
            "(the layout defect-sample writes)",
        )
    has_manifest = (folder / MANIFEST_NAME).is_file()
    triples = (
        _pairs_from_manifest(folder)
        if has_manifest
        else _pairs_by_stem(folder, defect_name or folder.resolve().name)
    )
    labelled = _labels_from_manifest(folder) if has_manifest else {}
    if not triples:
        where = folder / MANIFEST_NAME if has_manifest else folder / DEFECT_DIR
        raise InputFileError(where, "holds no generated images")
    if defect_name is not None:
        triples = [(image, mask, defect_name) for image, mask, _ in triples]
    bad_names = sorted({name for _, _, name in triples if name == GOOD})
    if bad_names:
        raise InputFileError(folder, f"a generated defect cannot be named {GOOD!r} (the defect-free class)")
    validate_pairs([(image, mask) for image, mask, _ in triples], folder, mask_threshold=mask_threshold)
    source = "cut-paste" if (folder / CUT_PASTE_PROVENANCE).is_file() else "generated"
    items = [
        InspectionItem(
            image,
            mask,
            name,
            source,
            mask_threshold=mask_threshold,
            labels=labelled.get(image, (None, {}))[0],
            classes=labelled.get(image, (None, {}))[1],
        )
        for image, mask, name in sorted(triples, key=lambda t: t[0].name)
    ]
    logger.info("%s: %d generated image(s) of %s", folder, len(items), sorted({i.label for i in items}))
    return items
