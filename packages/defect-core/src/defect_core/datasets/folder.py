"""A plain folder of defect pairs: ``<root>/images/<stem>.*`` with masks ``<root>/masks/<stem>.*``.

Layout::

    <root>/images/scratch_01.jpg
    <root>/masks/scratch_01.png          or masks/scratch_01_mask.png; any image suffix
    <root>/good/*.png                    optional: defect-free images

The caller names the object and the defect, since the folder does not. A plain folder has no train / test
split of its normal images: ``normal_images`` returns ``good/`` for either split.
"""

from __future__ import annotations

import logging
from pathlib import Path

from defect_core.datasets.base import DatasetReader, register_reader
from defect_core.datasets.validation import find_pair_problems, raise_if_problems
from defect_core.defect_example import DefectExample
from defect_core.errors import InputFileError
from defect_core.images import list_images

logger = logging.getLogger(__name__)

IMAGES, MASKS, GOOD = "images", "masks", "good"
MASK_STEM_SUFFIX = "_mask"


@register_reader("folder")
class FolderReader(DatasetReader):
    """Reader of an ``images/`` + ``masks/`` (+ ``good/``) folder holding one defect category."""

    def __init__(
        self, root: str | Path, *, object_name: str, defect_name: str, mask_threshold: int = 128
    ) -> None:
        super().__init__(root)
        for name, value in (("object_name", object_name), ("defect_name", defect_name)):
            if not value or not value.strip():
                raise ValueError(f"{name} must be a non-empty name, got {value!r}")
        if not 0 <= mask_threshold <= 255:
            raise ValueError(f"mask_threshold must be in 0..255, got {mask_threshold}")
        self.object_name = object_name
        self.defect_name = defect_name
        # An instance attribute on purpose: unlike the public datasets, a user's folder may hold 0 / 1 masks.
        self.mask_threshold = mask_threshold

    def object_names(self) -> list[str]:
        """``[object_name]``."""
        return [self.object_name]

    def defect_names(self, object_name: str) -> list[str]:
        """``[defect_name]``."""
        self.require_object(object_name)
        return [self.defect_name]

    def match_masks(self) -> tuple[list[tuple[Path, Path]], list[InputFileError]]:
        """Pair every image of ``images/`` with its mask in ``masks/``.

        A mask matches an image when its stem is the image's stem or the image's stem + "_mask". Return the
        pairs sorted by image file name and the problems: an image with no mask or with several candidates.
        """
        images = list_images(self.root / IMAGES)
        masks_folder = self.root / MASKS
        masks = list_images(masks_folder) if masks_folder.is_dir() else []
        by_stem: dict[str, list[Path]] = {}
        for mask in masks:
            by_stem.setdefault(mask.stem, []).append(mask)

        pairs: list[tuple[Path, Path]] = []
        problems: list[InputFileError] = []
        used: set[Path] = set()
        for image in images:
            candidates = by_stem.get(image.stem, []) + by_stem.get(image.stem + MASK_STEM_SUFFIX, [])
            if not candidates:
                problems.append(
                    InputFileError(
                        image,
                        f"has no mask: looked for {MASKS}/{image.stem}.* and {MASKS}/{image.stem}{MASK_STEM_SUFFIX}.*",
                    )
                )
            elif len(candidates) > 1:
                names = ", ".join(c.name for c in sorted(candidates))
                problems.append(InputFileError(image, f"has several masks ({names}); keep one"))
            else:
                pairs.append((image, candidates[0]))
                used.add(candidates[0])
        unused = [m.name for m in masks if m not in used]
        if unused:
            logger.warning(
                "%d mask(s) in %s match no image: %s", len(unused), masks_folder, ", ".join(unused[:10])
            )
        pairs.sort(key=lambda pair: pair[0].name)
        return pairs, problems

    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Every image of ``images/`` with its mask, sorted by file name; validated (see base)."""
        self.require_defect(object_name, defect_name)
        pairs, problems = self.match_masks()
        problems += find_pair_problems(pairs, mask_threshold=self.mask_threshold)
        raise_if_problems(self.root, problems)
        return [
            DefectExample(image, mask, object_name, defect_name, mask_threshold=self.mask_threshold)
            for image, mask in pairs
        ]

    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Images of ``good/`` (either split); an empty list when there is no ``good/`` folder."""
        self.require_split(split)
        self.require_object(object_name)
        good = self.root / GOOD
        return list_images(good) if good.is_dir() else []
