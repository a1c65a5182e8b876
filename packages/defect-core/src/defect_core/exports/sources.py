"""What an export reads: the defect items (image + labels + class table) and the defect-free images, from a
generation output folder (its manifest) or from a dataset through any reader.

Both sources are lists of :class:`~defect_core.defect_example.DefectExample`, so an export reads labels the
way every multi-class consumer does: ``load_labels()`` and ``class_table`` (a binary item is class 1 named
after its defect).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from defect_core.datasets import open_dataset
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError
from defect_core.manifest import MANIFEST_NAME, read_manifest
from defect_core.sample_record import SampleRecord

logger = logging.getLogger(__name__)

GENERATED_OBJECT = "generated"
"""Object name of a generated item whose record names no object (a prompt item)."""


@dataclass(frozen=True)
class ExportItem:
    """One defect image of an export: ``stem`` names its files there (unique within the export)."""

    stem: str
    example: DefectExample


@dataclass(frozen=True)
class ExportSource:
    """Everything an export reads. ``root`` names the source in errors; ``normals`` are the defect-free
    images (empty when unknown or not asked for); ``description`` says where it all came from."""

    root: Path
    items: tuple[ExportItem, ...]
    normals: tuple[Path, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        counts = Counter(item.stem for item in self.items)
        for stem, n in counts.items():
            # the stem is a file name in the export: a separator would write outside its folder, a leading
            # dot would hide the file
            if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
                raise ValueError(f"{self.root}: {stem!r} cannot name an exported file")
            if n > 1:
                raise ValueError(f"{self.root}: stem {stem!r} is given to {n} items; each needs its own")


def _example_of(record: SampleRecord) -> DefectExample:
    # a concept id is "<object>/<defect>"; prompt (zero-shot) items name no object
    concept = record.concept or ""
    object_name = concept.split("/", 1)[0] if "/" in concept else GENERATED_OBJECT
    return DefectExample(
        image=record.image,
        mask=record.mask,
        object_name=object_name or GENERATED_OBJECT,
        defect_name=record.defect_name,
        labels=record.labels,
        classes=record.classes,
    )


def generation_source(folder: str | Path, *, normals: bool = True) -> ExportSource:
    """The items of a generation output folder (``defect-sample`` / review app output), from its manifest.

    Stems are the item ids. ``normals``: the records' source images (each once), which must exist; pass
    ``normals=False`` when they are not on this machine. Raises :class:`InputFileError` for a folder without
    manifest and :class:`DatasetError` naming every record whose files are missing.
    """
    folder = Path(folder)
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        raise InputFileError(folder, f"is no generation output folder: it has no {MANIFEST_NAME}")
    by_id: dict[str, SampleRecord] = {}
    for record in read_manifest(manifest):
        if record.item_id in by_id:
            logger.warning("%s: item %s is logged twice; exporting its last record", manifest, record.item_id)
        by_id[record.item_id] = record
    if not by_id:
        raise InputFileError(manifest, "holds no record: nothing to export")
    problems = []
    for record in by_id.values():
        for what, path in (("image", record.image), ("mask", record.mask), ("labels", record.labels)):
            if path is not None and not path.is_file():
                problems.append(InputFileError(path, f"{what} of item {record.item_id} does not exist"))
    sources: list[Path] = []
    if normals:
        sources = list(dict.fromkeys(r.source_image for r in by_id.values()))  # each once, in order
        problems += [
            InputFileError(
                p,
                "defect-free source image of the manifest does not exist (normals=False, "
                "--no-normals, exports without them)",
            )
            for p in sources
            if not p.is_file()
        ]
    if problems:
        raise DatasetError(folder, problems)
    items = tuple(ExportItem(r.item_id, _example_of(r)) for r in by_id.values())
    return ExportSource(folder, items, tuple(sources), f"generation output {folder}")


def dataset_source(
    kind: str,
    root: str | Path | None = None,
    *,
    object_name: str | None = None,
    defects: tuple[str, ...] | list[str] = (),
    normals: bool = True,
    normals_root: str | Path | None = None,
    **options: object,
) -> ExportSource:
    """The defect examples of one object of a dataset, read through its reader
    (:func:`~defect_core.datasets.open_dataset`; ``options`` go to the reader).

    ``object_name`` may be left out when the dataset has one object; ``defects`` selects categories (all when
    empty). Stems are ``<defect>_<image stem>`` (MVTec AD numbers every category from 000). ``normals``: the
    object's defect-free training images (``normal_images(object, "train")``). ``normals_root``: for
    datasets that ship none (Defect Spectrum: the original MVTec AD folder).
    """
    defects = tuple(defects)
    if normals_root is not None:
        options = {**options, "normals_root": normals_root}
    reader = open_dataset(
        kind,
        root,
        object_name=object_name,
        defect_name=defects[0] if len(defects) == 1 else None,
        **options,
    )
    if object_name is None:
        objects = reader.object_names()
        if len(objects) != 1:
            raise ValueError(
                f"dataset {reader.root} holds {len(objects)} objects ({', '.join(objects) or 'none'}): "
                "name one (--object)"
            )
        object_name = objects[0]
    reader.require_object(object_name)
    for defect in defects:
        reader.require_defect(object_name, defect)
    chosen = defects or tuple(reader.defect_names(object_name))
    items, seen = [], {}
    for defect in chosen:
        for example in reader.defect_examples(object_name, defect):
            stem = f"{defect}_{example.image.stem}"
            if stem in seen:
                raise DatasetError(
                    reader.root,
                    [InputFileError(example.image, f"exports as {stem}, as {seen[stem]} does; rename one")],
                )
            seen[stem] = example.image
            items.append(ExportItem(stem, example))
    if not items:
        raise ValueError(f"dataset {reader.root}: object {object_name!r} has no defect image in {chosen}")
    normal_paths = tuple(reader.normal_images(object_name, "train")) if normals else ()
    where = f"{kind} dataset {reader.root}, object {object_name}, defects {', '.join(chosen)}"
    return ExportSource(reader.root, tuple(items), normal_paths, where)
