"""A plain folder of defect pairs: ``<root>/images/<stem>.*`` with masks ``<root>/masks/<stem>.*``.

Layout::

    <root>/images/scratch_01.jpg
    <root>/masks/scratch_01.png          or masks/scratch_01_mask.png; any image suffix
    <root>/good/*.png                    optional: defect-free images

The caller names the object and the defect, since the folder does not. A plain folder has no train / test
split of its normal images: ``normal_images`` returns ``good/`` for either split.

**labelme.** Instead of ``masks/``, every image may have a labelme file beside it, ``images/<stem>.json``
(polygons and rectangles with a class ``label``, :mod:`~defect_core.datasets.labelme`). Then the examples
are multi-class: each shape is rasterised into a class-index label image (labelme's own fill rule), written
to the user cache (never into the dataset folder), and the example's ``labels`` and ``mask`` are that file
with ``mask_threshold = 1``. The class table is ``<root>/classes.json`` when present (pinning the ids;
:mod:`~defect_core.datasets.classes_file`), else ids 1..n for the sorted label names of all the folder's
files (:func:`~defect_core.class_labels.class_table_from_names`): the same names always give the same ids.
A folder is annotated one way: once any labelme file is there, an image without one, or with a mask in
``masks/`` as well, is a named problem.
"""

from __future__ import annotations

import logging
from pathlib import Path

from defect_core.builtin.cache import default_cache_dir
from defect_core.class_labels import class_table_from_names
from defect_core.datasets.base import DatasetReader, register_reader
from defect_core.datasets.classes_file import CLASSES_FILE, read_classes_file
from defect_core.datasets.labelme import (
    LABELME_SUFFIX,
    LabelmeFile,
    cached_labels,
    labelme_problems,
    read_labelme,
)
from defect_core.datasets.validation import find_pair_problems, raise_if_problems
from defect_core.defect_example import DefectExample
from defect_core.errors import InputFileError
from defect_core.images import list_images, open_image

logger = logging.getLogger(__name__)

IMAGES, MASKS, GOOD = "images", "masks", "good"
MASK_STEM_SUFFIX = "_mask"


@register_reader("folder")
class FolderReader(DatasetReader):
    """Reader of an ``images/`` + ``masks/`` (+ ``good/``) folder holding one defect category."""

    def __init__(
        self,
        root: str | Path,
        *,
        object_name: str,
        defect_name: str,
        mask_threshold: int = 128,
        cache_dir: str | Path | None = None,
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
        # where rasterised labelme labels go; the user cache (default_cache_dir) unless given
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

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

    def labelme_files(self) -> list[Path]:
        """The labelme files of ``images/`` (``*.json``), sorted; empty when the folder uses ``masks/``."""
        images = self.root / IMAGES
        if not images.is_dir():
            return []
        return sorted(
            p
            for p in images.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == LABELME_SUFFIX
        )

    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Every image of ``images/`` with its mask (or labelme labels), sorted by file name; validated."""
        self.require_defect(object_name, defect_name)
        if self.labelme_files():
            return self._labelme_examples(object_name, defect_name)
        pairs, problems = self.match_masks()
        problems += find_pair_problems(pairs, mask_threshold=self.mask_threshold)
        raise_if_problems(self.root, problems)
        return [
            DefectExample(image, mask, object_name, defect_name, mask_threshold=self.mask_threshold)
            for image, mask in pairs
        ]

    def labelme_class_table(self, annotations: list[LabelmeFile]) -> dict[int, str]:
        """``<root>/classes.json`` if present, else ids 1..n for the sorted label names of ``annotations``."""
        pinned = self.root / CLASSES_FILE
        if pinned.is_file():
            return read_classes_file(pinned)
        return class_table_from_names([name for a in annotations for name in a.label_names])

    def _labelme_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        images = list_images(self.root / IMAGES)
        masks_folder = self.root / MASKS
        mask_stems = {m.stem for m in list_images(masks_folder)} if masks_folder.is_dir() else set()
        problems: list[InputFileError] = []
        annotated: list[tuple[Path, LabelmeFile]] = []
        for image in images:
            json_path = image.with_suffix(LABELME_SUFFIX)
            if image.stem in mask_stems or image.stem + MASK_STEM_SUFFIX in mask_stems:
                problems.append(
                    InputFileError(
                        image, f"has a mask in {MASKS}/ and the folder has labelme files; keep one way"
                    )
                )
            if not json_path.is_file():
                problems.append(
                    InputFileError(
                        image,
                        f"has no labelme file {json_path.name} while other images of {IMAGES}/ have one: "
                        f"annotate every image with labelme, or every image with a mask in {MASKS}/",
                    )
                )
                continue
            try:
                annotated.append((image, read_labelme(json_path)))
            except InputFileError as exc:
                problems.append(exc)
        image_stems = {image.stem for image in images}
        orphans = [p.name for p in self.labelme_files() if p.stem not in image_stems]
        if orphans:
            logger.warning(
                "%d labelme file(s) in %s match no image: %s",
                len(orphans),
                self.root / IMAGES,
                ", ".join(orphans[:10]),
            )

        classes = self.labelme_class_table([a for _, a in annotated])
        names = set(classes.values())
        sized: list[tuple[Path, LabelmeFile, tuple[int, int]]] = []
        for image, annotation in annotated:
            try:
                size = open_image(image).size
            except InputFileError as exc:
                problems.append(exc)
                continue
            found = labelme_problems(annotation, image, size)
            unknown = sorted(set(annotation.label_names) - names)
            if unknown:
                found.append(
                    InputFileError(
                        annotation.path,
                        f"label(s) {', '.join(map(repr, unknown))} are not in {self.root / CLASSES_FILE}",
                    )
                )
            if found:
                problems += found
            else:
                sized.append((image, annotation, size))
        raise_if_problems(self.root, problems)

        logger.info(
            "labelme classes of %s: %s", self.root, ", ".join(f"{k} {name}" for k, name in classes.items())
        )
        cache = self.cache_dir if self.cache_dir is not None else default_cache_dir()
        examples = []
        for image, annotation, size in sized:
            labels = cached_labels(annotation, image, size, classes, cache)
            examples.append(
                DefectExample(
                    image, labels, object_name, defect_name, mask_threshold=1, labels=labels, classes=classes
                )
            )
        return examples

    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Images of ``good/`` (either split); an empty list when there is no ``good/`` folder."""
        self.require_split(split)
        self.require_object(object_name)
        good = self.root / GOOD
        return list_images(good) if good.is_dir() else []
