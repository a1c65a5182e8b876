"""The interface every dataset reader implements, and the registry that creates readers by name.

A reader answers four questions about a dataset folder: which objects it holds, which defect categories each
object has, which real (defect image, mask) pairs belong to a category, and which defect-free images exist.
It never writes into the dataset folder.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar, TypeVar

from defect_core.defect_example import DefectExample
from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

NORMAL_SPLITS = ("train", "test")

_READERS: dict[str, type[DatasetReader]] = {}

ReaderT = TypeVar("ReaderT", bound="DatasetReader")


class DatasetReader(ABC):
    """A read-only view of one dataset folder.

    Subclasses set ``mask_threshold``: the gray value from which a mask pixel counts as defect (see
    :func:`defect_core.images.load_mask`). It is 128 for 0 / 255 masks; readers of datasets whose masks
    use small label values (VisA, KolektorSDD2) set 1, and code that loads their masks later must use the
    same threshold. It is a class attribute that a reader may override per instance.
    """

    kind: ClassVar[str] = ""
    mask_threshold: int = 128
    split_rule: ClassVar[str] = "first-third"
    """The train / held-out rule of the DefectFill protocol on this dataset (:mod:`defect_core.datasets.splits`)."""
    official_test_split: ClassVar[bool] = False
    """True when the dataset ships its own train / test split of defect images (KSDD2): then
    :meth:`official_test_examples` reads the test side (DIAG's protocol) and :meth:`defect_examples` the rest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputFileError(self.root, "dataset folder does not exist")

    @abstractmethod
    def object_names(self) -> list[str]:
        """Names of the objects in the dataset, sorted."""

    @abstractmethod
    def defect_names(self, object_name: str) -> list[str]:
        """Defect categories of ``object_name``, sorted; raise ``ValueError`` for an unknown object."""

    @abstractmethod
    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Every real defect pair of one category, sorted by image file name.

        Every pair is validated first; all problems are raised together as one
        :class:`~defect_core.errors.DatasetError` that names the files.
        """

    @abstractmethod
    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Defect-free images of ``object_name`` in ``split`` ("train" or "test"), sorted by file name."""

    def official_test_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """The defect pairs of the dataset's official test split (only where ``official_test_split``).

        Other datasets keep every defect in one place and split it by :attr:`split_rule`: ``ValueError``
        saying so and naming the kinds that have an official test split.
        """
        raise ValueError(
            f"dataset {self.kind or type(self).__name__!r} at {self.root} has no official test split of "
            f"defect images (its defects are split by the {self.split_rule} rule: test on held_out); "
            f"datasets with one: {_listing(official_test_kinds())}"
        )

    def require_object(self, object_name: str) -> None:
        """Raise ``ValueError`` listing the available objects unless ``object_name`` is one of them."""
        available = self.object_names()
        if object_name not in available:
            raise ValueError(
                f"unknown object {object_name!r} in {self.root}; available: {_listing(available)}"
            )

    def require_defect(self, object_name: str, defect_name: str) -> None:
        """Raise ``ValueError`` listing the available defects unless ``defect_name`` is one of them."""
        available = self.defect_names(object_name)
        if defect_name not in available:
            raise ValueError(
                f"unknown defect {defect_name!r} for object {object_name!r}; available: {_listing(available)}"
            )

    @staticmethod
    def require_split(split: str) -> None:
        """Raise ``ValueError`` unless ``split`` is "train" or "test"."""
        if split not in NORMAL_SPLITS:
            raise ValueError(f"split must be one of {', '.join(NORMAL_SPLITS)}; got {split!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(names) if names else "(none)"


def register_reader(kind: str) -> Callable[[type[ReaderT]], type[ReaderT]]:
    """Class decorator: make a :class:`DatasetReader` subclass creatable as ``create_reader(kind, ...)``."""
    if not kind or not kind.strip():
        raise ValueError(f"reader kind must be a non-empty name, got {kind!r}")

    def decorate(cls: type[ReaderT]) -> type[ReaderT]:
        if not (isinstance(cls, type) and issubclass(cls, DatasetReader)):
            raise TypeError(f"@register_reader({kind!r}) needs a DatasetReader subclass, got {cls!r}")
        existing = _READERS.get(kind)
        if existing is not None and existing is not cls:
            raise ValueError(f"reader kind {kind!r} is already registered by {existing.__qualname__}")
        cls.kind = kind
        _READERS[kind] = cls
        return cls

    return decorate


def available_readers() -> list[str]:
    """Registered reader kinds, sorted."""
    return sorted(_READERS)


def official_test_kinds() -> list[str]:
    """Registered reader kinds whose datasets ship an official test split of defects (``official_test_split``)."""
    return sorted(kind for kind, cls in _READERS.items() if cls.official_test_split)


def create_reader(kind: str, root: str | Path, **kwargs: object) -> DatasetReader:
    """Create the reader registered as ``kind`` for the dataset folder ``root``.

    ``kwargs`` go to the reader's constructor (for example ``object_name`` / ``defect_name`` for "folder").
    Raise ``ValueError`` listing the registered kinds for an unknown ``kind``.
    """
    cls = _READERS.get(kind)
    if cls is None:
        raise ValueError(f"unknown dataset reader {kind!r}; available: {_listing(available_readers())}")
    logger.debug("creating %s reader for %s", kind, root)
    return cls(root, **kwargs)
