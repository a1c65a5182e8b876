"""MVTec AD: ``<root>/<object>/{train,test}/<category>/*.png`` and ``ground_truth/<defect>/<stem>_mask.png``.

Layout (Bergmann et al., CVPR 2019)::

    <root>/<object>/train/good/000.png
    <root>/<object>/test/good/000.png
    <root>/<object>/test/<defect>/000.png
    <root>/<object>/ground_truth/<defect>/000_mask.png     0 / 255

"good" holds defect-free images and is not a defect category.
"""

from __future__ import annotations

import logging
from pathlib import Path

from defect_core.datasets.base import DatasetReader, register_reader
from defect_core.datasets.validation import validate_pairs
from defect_core.defect_example import DefectExample
from defect_core.images import list_images

logger = logging.getLogger(__name__)

GOOD = "good"
MASK_SUFFIX = "_mask.png"


@register_reader("mvtec")
class MVTecReader(DatasetReader):
    """Reader of the MVTec AD layout (and of any dataset copied into it, such as MVTec-prepared VisA)."""

    def object_names(self) -> list[str]:
        """Subfolders of the root that have a ``train/`` or ``test/`` folder, sorted."""
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and ((p / "train").is_dir() or (p / "test").is_dir())
        )

    def defect_names(self, object_name: str) -> list[str]:
        """Subfolders of ``<object>/test/`` except "good", sorted."""
        self.require_object(object_name)
        test = self.root / object_name / "test"
        if not test.is_dir():
            return []
        return sorted(
            p.name for p in test.iterdir() if p.is_dir() and p.name != GOOD and not p.name.startswith(".")
        )

    def mask_path(self, object_name: str, defect_name: str, image: Path) -> Path:
        """Where MVTec keeps the mask of a test image: ``ground_truth/<defect>/<stem>_mask.png``."""
        return self.root / object_name / "ground_truth" / defect_name / f"{image.stem}{MASK_SUFFIX}"

    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Every image of ``test/<defect>/`` with its mask, sorted by file name; validated (see base)."""
        self.require_defect(object_name, defect_name)
        images = list_images(self.root / object_name / "test" / defect_name)
        pairs = [(image, self.mask_path(object_name, defect_name, image)) for image in images]
        validate_pairs(pairs, self.root, mask_threshold=self.mask_threshold)
        return [
            DefectExample(image, mask, object_name, defect_name, mask_threshold=self.mask_threshold)
            for image, mask in pairs
        ]

    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Images of ``<object>/<split>/good/``; an empty list when that folder does not exist."""
        self.require_split(split)
        self.require_object(object_name)
        folder = self.root / object_name / split / GOOD
        if not folder.is_dir():
            logger.info("%s has no folder %s/%s; no normal images there", object_name, split, GOOD)
            return []
        return list_images(folder)
