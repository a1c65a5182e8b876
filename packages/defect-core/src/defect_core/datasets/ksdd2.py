"""KolektorSDD2 (Božič et al., 2021): ``<root>/{train,test}/<n>.png`` with ground truth ``<n>_GT.png``.

Every image has a ground-truth file; one with no defect pixel marks a defect-free image. The dataset has one
object and one defect category: named "ksdd2" and "defect" unless the caller names them otherwise.

Ground-truth files are found both as 0 / 255 and as 0 / 1 images, so any non-zero pixel counts as defect
(``mask_threshold = 1``); code that loads these masks later must do the same.

Two protocols read this dataset, and the commands say which one a flag selects:

- **DefectFill** (the default everywhere): the defects of the official ``train/`` folder are split by file
  name, the first third trains (concepts, ``--real-train``), the other two thirds are held out and, with the
  ``test/`` folder's defect-free images, are the test set (``--test-split held_out``);
- **DIAG** (Girella et al. 2024): the official split. Everything in ``train/`` (246 defects, 2085 defect-free
  images) trains (``--real-train all``) and the whole ``test/`` folder (110 / 894) is the test set
  (``--test-split test``, :meth:`KSDD2Reader.official_test_examples`).

``defect_examples`` reads the training folder by default, so test defects never leak into training unless
asked for (``defect_split="test"`` or ``"all"``).

The official download holds a stray duplicate pair in ``train/``, ``10301 (copy).png`` and
``10301_GT (copy).png`` (byte copies of ``10301``; the second does not even end in ``_GT``). Files whose name
ends in `` (copy)`` are such copies: they are skipped with a warning naming each, so the counts match the
published 2331 / 1004 images.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from defect_core.datasets.base import NORMAL_SPLITS, DatasetReader, register_reader
from defect_core.datasets.validation import find_pair_problems, raise_if_problems
from defect_core.defect_example import DefectExample
from defect_core.errors import InputFileError
from defect_core.images import list_images, load_mask

logger = logging.getLogger(__name__)

GT_SUFFIX = "_GT"
DEFECT_SPLITS = ("train", "test", "all")
COPY_PATTERN = re.compile(r".+ \(copy\)")
"""File stems of stray duplicates (a file manager's "<name> (copy)"), such as the official download's
``10301 (copy).png`` and ``10301_GT (copy).png``."""


_WARNED: set[Path] = set()
"""Copies already warned about in this process (commands open a dataset several times)."""


def is_stray_copy(path: Path) -> bool:
    """True for a file whose stem ends in `` (copy)``: a duplicate, not an image of the dataset."""
    return COPY_PATTERN.fullmatch(path.stem) is not None


@dataclass
class _SplitIndex:
    """What one split folder holds once every ground-truth file has been read."""

    defects: list[tuple[Path, Path]] = field(default_factory=list)
    normals: list[Path] = field(default_factory=list)
    problems: list[InputFileError] = field(default_factory=list)


@register_reader("ksdd2")
class KSDD2Reader(DatasetReader):
    """Reader of the KolektorSDD2 layout."""

    mask_threshold = 1
    official_test_split = True

    def __init__(
        self,
        root: str | Path,
        *,
        object_name: str = "ksdd2",
        defect_name: str = "defect",
        defect_split: str = "train",
    ) -> None:
        super().__init__(root)
        for name, value in (("object_name", object_name), ("defect_name", defect_name)):
            if not value or not value.strip():
                raise ValueError(f"{name} must be a non-empty name, got {value!r}")
        if defect_split not in DEFECT_SPLITS:
            raise ValueError(f"defect_split must be one of {', '.join(DEFECT_SPLITS)}; got {defect_split!r}")
        self.object_name = object_name
        self.defect_name = defect_name
        self.defect_split = defect_split
        self._index: dict[str, _SplitIndex] = {}

    def object_names(self) -> list[str]:
        """``[object_name]``."""
        return [self.object_name]

    def defect_names(self, object_name: str) -> list[str]:
        """``[defect_name]``."""
        self.require_object(object_name)
        return [self.defect_name]

    def _split_index(self, split: str) -> _SplitIndex:
        """Sort the images of ``<root>/<split>/`` into defects and normals by reading their ground truth.

        Cached: KSDD2 has about 3000 images and each ground-truth file must be decoded once to know which
        side it falls on.
        """
        if split not in self._index:
            self._index[split] = self._read_split(split)
        return self._index[split]

    def _read_split(self, split: str) -> _SplitIndex:
        index = _SplitIndex()
        folder = self.root / split
        if not folder.is_dir():
            logger.info("KSDD2 root %s has no %s/ folder", self.root, split)
            return index
        for image in list_images(folder):
            if is_stray_copy(image):
                if image in _WARNED:
                    continue
                _WARNED.add(image)
                logger.warning(
                    "KSDD2 %s/: skipping %s, a duplicate copy (the official download ships 10301 (copy).png "
                    "and 10301_GT (copy).png); it is not an image of the dataset",
                    split,
                    image,
                )
                continue
            if image.stem.endswith(GT_SUFFIX):
                continue
            gt = image.with_name(f"{image.stem}{GT_SUFFIX}{image.suffix}")
            if not gt.is_file():
                index.problems.append(
                    InputFileError(gt, f"ground-truth file is missing (expected for image {image.name})")
                )
                continue
            try:
                has_defect = bool(np.any(load_mask(gt, threshold=self.mask_threshold)))
            except InputFileError as exc:
                index.problems.append(exc)
                continue
            if has_defect:
                index.defects.append((image, gt))
            else:
                index.normals.append(image)
        return index

    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Images whose ground truth has a defect pixel, in ``defect_split``, sorted by file name; validated.

        Problems with any ground-truth file of the split (missing, unreadable) are reported too, since an
        image whose ground truth cannot be read might be a defect.
        """
        self.require_defect(object_name, defect_name)
        splits = NORMAL_SPLITS if self.defect_split == "all" else (self.defect_split,)
        return self._examples(splits, object_name, defect_name)

    def official_test_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """The defects of the official ``test/`` folder (DIAG's test positives), whatever ``defect_split`` is;
        sorted by file name and validated as :meth:`defect_examples`."""
        self.require_defect(object_name, defect_name)
        return self._examples(("test",), object_name, defect_name)

    def _examples(self, splits: tuple[str, ...], object_name: str, defect_name: str) -> list[DefectExample]:
        pairs: list[tuple[Path, Path]] = []
        problems: list[InputFileError] = []
        for split in splits:
            index = self._split_index(split)
            pairs += index.defects
            problems += index.problems
        pairs.sort(key=lambda pair: (pair[0].name, str(pair[0])))
        # A defect ground truth is non-empty by construction; this still catches corrupt images and
        # size mismatches.
        problems += find_pair_problems(pairs, mask_threshold=self.mask_threshold)
        raise_if_problems(self.root, problems)
        return [
            DefectExample(image, mask, object_name, defect_name, mask_threshold=self.mask_threshold)
            for image, mask in pairs
        ]

    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Images of ``<root>/<split>/`` whose ground truth is all zero, sorted by file name.

        Images whose ground truth is missing or unreadable are left out (and logged); they are reported as
        problems by :meth:`defect_examples`.
        """
        self.require_split(split)
        self.require_object(object_name)
        index = self._split_index(split)
        if index.problems:
            logger.warning(
                "%d image(s) of %s/%s left out: ground truth missing or unreadable",
                len(index.problems),
                self.root,
                split,
            )
        return list(index.normals)
