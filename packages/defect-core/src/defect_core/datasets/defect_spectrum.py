"""Defect Spectrum (Yang et al., ECCV 2024): MVTec AD re-annotated with a class id per pixel, and captions.

Layout of a subset folder (``root``; DS-MVTec as published)::

    <root>/<object>/image/<defect>/000.png
    <root>/<object>/mask/<defect>/000_mask.png              class ids: 0 background, k = class k
    <root>/<object>/rgb_mask/<defect>/000_rgb_mask.png      the same in the palette; some objects spell it
    <root>/<object>/rbg_mask/<defect>/000_rbg_mask.png      "rbg_mask" (both spellings are read)
    <root>/<object>/classes.json                            optional: replaces the object's class table
    <root>/captions.xlsx                                    optional: a caption per image

**Classes.** An object's ids are the published table of DS-MVTec.md
(:mod:`~defect_core.datasets.defect_spectrum_classes`), or ``<object>/classes.json``
(:mod:`~defect_core.datasets.classes_file`); objects outside the published table need the file. The pixel
values are the labels, not the folder name: a ``combined`` folder (and any other) holds several classes per
image, and every example of an object carries the object's whole table, so ids mean the same in every image.

**Examples.** One per image of ``image/<defect>/`` (``good`` is no defect category), sorted by file name, so
the first-third split of :mod:`~defect_core.datasets.splits` applies per folder as on MVTec AD. An example's
``labels`` and ``mask`` are the same label file, read with ``mask_threshold = 1`` so that the binary view is
``labels > 0``. The class-id file of ``mask/`` is used when it exists; where only the colour file exists,
that file is the label file: :func:`~defect_core.class_labels.load_labels` decodes it with the palette
(and ``load_mask`` at threshold 1 is again ``labels > 0``, every palette colour but black having a non-zero
luminance), so nothing is written anywhere. Every label file is checked first and all problems are raised as
one :class:`~defect_core.errors.DatasetError`: an image without a label file, an unreadable file, a label
image whose size differs from its image, pixel values that are no class id of the object (listed), an empty
label image.

**Normal images.** Defect Spectrum ships none of its own: ``normals_root`` is the original MVTec AD folder and
``normal_images(object, split)`` reads ``<normals_root>/<object>/<split>/good/``.

**Captions.** ``captions.xlsx`` (:mod:`~defect_core.datasets.captions`) needs ``defect-core[captions]``
(openpyxl). ``captions=None`` (default) reads it when the file and openpyxl are both there and logs a warning
naming the extra when only openpyxl is missing; ``True`` requires both (``ImportError`` naming the extra);
a path reads that file; ``False`` never reads captions.

**Other subsets.** As published, DS-VISION puts its images directly in ``<object>/image/`` and DS-DAGM in
``<root>/image/``, without defect folders (their pixel values alone carry the classes): such a layout is
refused at construction with an error naming the folder ("not supported yet"). DS-Cotton-Fabric's layout was
not available to check: a subset in the DS-MVTec layout reads (with a ``classes.json`` per object, since only
DS-MVTec's tables are built in); any other is refused the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path

from defect_core.datasets.base import DatasetReader, register_reader
from defect_core.datasets.captions import CAPTIONS_EXTRA, CAPTIONS_FILE, CaptionKey, read_captions
from defect_core.datasets.classes_file import CLASSES_FILE, read_classes_file
from defect_core.datasets.defect_spectrum_classes import builtin_class_table
from defect_core.datasets.validation import label_pair_problems, raise_if_problems
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError
from defect_core.images import IMAGE_SUFFIXES, list_images

logger = logging.getLogger(__name__)

IMAGE, MASK, GOOD = "image", "mask", "good"
MASK_SUFFIX = "_mask"
COLOR_SPELLINGS = ("rgb_mask", "rbg_mask")
"""Folder names, and file-stem suffixes after ``_``, of the colour masks (the published set uses both)."""
LABEL_SUFFIX = ".png"


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _has_images(folder: Path) -> bool:
    return any(
        p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        for p in folder.iterdir()
    )


@register_reader("defect-spectrum")
class DefectSpectrumReader(DatasetReader):
    """Reader of a Defect Spectrum subset in the DS-MVTec layout (class-index labels, captions)."""

    mask_threshold = 1

    def __init__(
        self,
        root: str | Path,
        *,
        normals_root: str | Path | None = None,
        captions: bool | str | Path | None = None,
    ) -> None:
        super().__init__(root)
        self.normals_root = Path(normals_root) if normals_root is not None else None
        if self.normals_root is not None and not self.normals_root.is_dir():
            raise InputFileError(
                self.normals_root, "normals folder (the original MVTec AD folder) does not exist"
            )
        if not (captions is None or isinstance(captions, bool | str | Path)):
            raise ValueError(f"captions must be None, True, False or a path, got {captions!r}")
        self.captions_option = captions
        self._captions: dict[CaptionKey, str] | None = None
        self._tables: dict[str, dict[int, str]] = {}
        self._objects = self._read_layout()

    def _read_layout(self) -> list[str]:
        """The object folders, after refusing the layouts this reader does not read (yet)."""
        if (self.root / IMAGE).is_dir():
            raise InputFileError(
                self.root,
                f"holds {IMAGE}/ directly (the DS-DAGM layout, no object and no defect folders): not supported "
                f"yet; the defect-spectrum reader reads the DS-MVTec layout <object>/{IMAGE}/<defect>/<file>",
            )
        subsets = [p.name for p in _subfolders(self.root) if p.name.startswith("DS-")]
        if subsets:
            raise InputFileError(
                self.root,
                f"is the Defect Spectrum folder, not one subset: it holds the subsets {', '.join(subsets)}; "
                f"give one of them (the DS-MVTec layout is read)",
            )
        objects = [p for p in _subfolders(self.root) if (p / IMAGE).is_dir()]
        if not objects:
            raise InputFileError(
                self.root, f"no <object>/{IMAGE}/ folder: not a Defect Spectrum subset folder"
            )
        flat = [
            InputFileError(
                p / IMAGE,
                f"images lie directly in {IMAGE}/ (the DS-VISION layout), not in "
                f"{IMAGE}/<defect>/ folders: not supported yet by the defect-spectrum reader",
            )
            for p in objects
            if not _subfolders(p / IMAGE) and _has_images(p / IMAGE)
        ]
        if flat:
            raise DatasetError(self.root, flat)
        return [p.name for p in objects]

    def object_names(self) -> list[str]:
        """Subfolders of the root that have an ``image/`` folder, sorted."""
        return list(self._objects)

    def defect_names(self, object_name: str) -> list[str]:
        """Subfolders of ``<object>/image/`` except "good", sorted."""
        self.require_object(object_name)
        return [p.name for p in _subfolders(self.root / object_name / IMAGE) if p.name != GOOD]

    def class_table(self, object_name: str) -> dict[int, str]:
        """``{id: name}`` of an object: its ``classes.json`` if present, else the published DS-MVTec table.

        Raises :class:`InputFileError` naming the object folder when neither exists.
        """
        self.require_object(object_name)
        if object_name not in self._tables:
            override = self.root / object_name / CLASSES_FILE
            if override.is_file():
                table = read_classes_file(override)
                logger.info("%s: class table from %s", object_name, override)
            else:
                table = builtin_class_table(object_name)
                if table is None:
                    raise InputFileError(
                        self.root / object_name,
                        f"DS-MVTec.md publishes no class table for object {object_name!r}: write "
                        f'{CLASSES_FILE} in this folder, e.g. {{"1": "scratch", "2": "dent"}}',
                    )
            self._tables[object_name] = table
        return dict(self._tables[object_name])

    def label_candidates(self, object_name: str, defect_name: str, image: Path) -> list[Path]:
        """Where the labels of ``image`` may be, in order of preference: the class-id file of ``mask/``, then
        the colour files of ``rgb_mask/`` and ``rbg_mask/`` (either suffix in either folder)."""
        base = self.root / object_name
        candidates = [base / MASK / defect_name / f"{image.stem}{MASK_SUFFIX}{LABEL_SUFFIX}"]
        for folder in COLOR_SPELLINGS:
            for suffix in COLOR_SPELLINGS:
                candidates.append(base / folder / defect_name / f"{image.stem}_{suffix}{LABEL_SUFFIX}")
        return candidates

    def labels_path(self, object_name: str, defect_name: str, image: Path) -> Path | None:
        """The first existing :meth:`label_candidates` file, or ``None``."""
        return next((p for p in self.label_candidates(object_name, defect_name, image) if p.is_file()), None)

    def captions(self) -> dict[CaptionKey, str]:
        """Captions by (object, defect, image stem) as ``captions`` asks (see the module); read once."""
        if self._captions is None:
            self._captions = self._read_captions()
        return self._captions

    def _read_captions(self) -> dict[CaptionKey, str]:
        option = self.captions_option
        if option is False:
            return {}
        path = Path(option) if isinstance(option, str | Path) else self.root / CAPTIONS_FILE
        if option is None:
            if not path.is_file():
                return {}
            try:
                import openpyxl  # noqa: F401
            except ImportError:
                logger.warning(
                    "%s: captions not read: install %s for them (the rest of the dataset reads without it)",
                    path,
                    CAPTIONS_EXTRA,
                )
                return {}
        return read_captions(path)

    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Every image of ``<object>/image/<defect>/`` with its labels, sorted by file name; validated.

        Each example has ``labels`` (the label file), ``mask`` (the same file, ``mask_threshold=1``), the
        object's class table and the image's caption (``None`` without one).
        """
        self.require_defect(object_name, defect_name)
        classes = self.class_table(object_name)
        captions = self.captions()
        examples: list[DefectExample] = []
        problems: list[InputFileError] = []
        for image in list_images(self.root / object_name / IMAGE / defect_name):
            labels = self.labels_path(object_name, defect_name, image)
            if labels is None:
                looked = ", ".join(
                    str(p.relative_to(self.root))
                    for p in self.label_candidates(object_name, defect_name, image)
                )
                problems.append(InputFileError(image, f"has no labels: looked for {looked}"))
                continue
            found = label_pair_problems(image, labels, classes)
            if found:
                problems += found
                continue
            examples.append(
                DefectExample(
                    image,
                    labels,
                    object_name,
                    defect_name,
                    mask_threshold=self.mask_threshold,
                    labels=labels,
                    classes=classes,
                    caption=captions.get((object_name, defect_name, image.stem)),
                )
            )
        raise_if_problems(self.root, problems)
        return examples

    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Images of ``<normals_root>/<object>/<split>/good/`` (the original MVTec AD), sorted by file name.

        Raises ``ValueError`` without ``normals_root`` (Defect Spectrum ships no defect-free images) and
        :class:`InputFileError` naming the folder when ``normals_root`` has none for the object.
        """
        self.require_split(split)
        self.require_object(object_name)
        if self.normals_root is None:
            raise ValueError(
                f"Defect Spectrum ships no defect-free images ({self.root}): give normals_root "
                f"(--normals-root), the original MVTec AD folder, whose <object>/{split}/{GOOD}/ holds them"
            )
        folder = self.normals_root / object_name / split / GOOD
        if not folder.is_dir():
            raise InputFileError(
                folder,
                f"no defect-free images of {object_name!r}: normals_root must be the original MVTec AD "
                f"folder, with <object>/{split}/{GOOD}/",
            )
        return list_images(folder)

    def __repr__(self) -> str:
        normals = None if self.normals_root is None else str(self.normals_root)
        return f"{type(self).__name__}(root={str(self.root)!r}, normals_root={normals!r})"
