"""The interface of one export format, and the registry that finds a format by name (``coco``, ...).

A writer gets a fresh folder (the staging folder of :mod:`defect_core.exports.staging`), the export's class
table and the items it will receive, then every checked item, then the defect-free images, then ``finish``.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

from defect_core.exports.prepared import PreparedItem
from defect_core.exports.sources import ExportItem

_FORMATS: dict[str, type[ExportWriter]] = {}

WriterT = TypeVar("WriterT", bound="ExportWriter")


class ExportWriter(ABC):
    """Writes one export format into ``folder``. ``classes`` is the export's table ``{id: name}``; ``items``
    are all the items it will be given (their stems name the files)."""

    format_name: ClassVar[str] = ""
    image_dir: ClassVar[str] = "images"
    """The folder, inside the export, of the defect images."""
    annotation_kind: ClassVar[str] = "annotation"
    """What :attr:`annotations_written` counts, for people (an annotation, a polygon line, a mask)."""
    uses_normals: ClassVar[bool] = False
    """Whether the format has a place for defect-free images (an export reads them only then)."""

    def __init__(self, folder: Path, classes: Mapping[int, str], items: Sequence[ExportItem]) -> None:
        self.folder = Path(folder)
        self.classes = dict(classes)
        self.image_names = self.name_images(items)
        self.annotations_written = 0  # COCO annotations, YOLO polygon lines or anomalib masks so far

    def name_images(self, items: Sequence[ExportItem]) -> dict[str, str]:
        """``{stem: exported image file name}``: the stem and the source suffix (the file is copied byte for
        byte, so a JPEG stays the same JPEG)."""
        return {item.stem: f"{item.stem}{item.example.image.suffix.lower()}" for item in items}

    def image_path(self, stem: str) -> Path:
        """Where the image of the item ``stem`` is written."""
        return self.folder / self.image_dir / self.image_names[stem]

    @abstractmethod
    def add(self, item: PreparedItem) -> None:
        """Write one item."""

    def add_normals(self, normals: Sequence[Path]) -> int:
        """Write the defect-free images, if the format has a place for them; return how many."""
        return 0

    def finish(self) -> None:  # noqa: B027 - a format without a file about all items does nothing here
        """Write what needs every item (an annotation file, a dataset description)."""


def copy_file(source: Path, target: Path) -> Path:
    """Copy ``source`` byte for byte (no re-encoding: a JPEG stays the same JPEG) to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def register_format(name: str) -> Callable[[type[WriterT]], type[WriterT]]:
    """Class decorator: make an :class:`ExportWriter` available as the export format ``name``."""

    def decorate(cls: type[WriterT]) -> type[WriterT]:
        if name in _FORMATS and _FORMATS[name] is not cls:
            raise ValueError(f"export format {name!r} is already registered by {_FORMATS[name].__qualname__}")
        cls.format_name = name
        _FORMATS[name] = cls
        return cls

    return decorate


def available_formats() -> list[str]:
    """Registered export format names, sorted."""
    return sorted(_FORMATS)


def writer_class(name: str) -> type[ExportWriter]:
    """The writer of the export format ``name``; ``ValueError`` listing the formats for an unknown one."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown export format {name!r}; available: {', '.join(available_formats())}"
        ) from None
