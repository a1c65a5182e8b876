"""Checks of real (defect image, mask) pairs, reporting every problem at once.

A dataset with forty pairs and three bad files should cost its owner one run to fix, not three: the checks
collect every problem and raise one :class:`~defect_core.errors.DatasetError` that lists them all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from defect_core.class_labels import load_labels, unknown_ids
from defect_core.errors import DatasetError, InputFileError
from defect_core.images import load_mask, open_image

logger = logging.getLogger(__name__)

Pair = tuple[Path, Path | None]


def pair_problems(
    image: str | Path, mask: str | Path | None, *, mask_threshold: int = 128
) -> list[InputFileError]:
    """Problems of one (image, mask) pair; an empty list when the pair is usable.

    Checked: the mask exists (``None`` means the reader found no mask file at all), image and mask decode,
    they have the same width and height, and the mask has at least one defect pixel (gray value
    >= ``mask_threshold``, in 0..255).
    """
    image = Path(image)
    problems: list[InputFileError] = []
    image_size: tuple[int, int] | None = None
    try:
        image_size = open_image(image).size
    except InputFileError as exc:
        problems.append(exc)

    if mask is None:
        problems.append(InputFileError(image, "has no mask file"))
        return problems
    mask = Path(mask)
    if not mask.is_file():
        problems.append(InputFileError(mask, f"mask file is missing (expected for image {image.name})"))
        return problems
    try:
        mask_array = load_mask(mask, threshold=mask_threshold)
    except InputFileError as exc:
        problems.append(exc)
        return problems

    mask_size = (mask_array.shape[1], mask_array.shape[0])
    if image_size is not None and mask_size != image_size:
        problems.append(
            InputFileError(
                mask,
                f"mask is {mask_size[0]}x{mask_size[1]} but its image {image.name} is "
                f"{image_size[0]}x{image_size[1]} (width x height)",
            )
        )
    if not np.any(mask_array):
        problems.append(
            InputFileError(mask, f"mask is empty: no defect pixel (no gray value >= {mask_threshold})")
        )
    return problems


def label_pair_problems(
    image: str | Path, labels: str | Path, classes: Mapping[int, str]
) -> list[InputFileError]:
    """Problems of one (image, class-index label image) pair; an empty list when the pair is usable.

    Checked: both decode (a colour label image must use only palette colours,
    :func:`~defect_core.class_labels.load_labels`), they have the same width and height, every pixel value
    is 0 or an id of ``classes`` (the message lists the other values and the ids), and at least one pixel
    is a defect (> 0).
    """
    image, labels = Path(image), Path(labels)
    problems: list[InputFileError] = []
    image_size: tuple[int, int] | None = None
    try:
        image_size = open_image(image).size
    except InputFileError as exc:
        problems.append(exc)
    try:
        ids = load_labels(labels)
    except InputFileError as exc:
        problems.append(exc)
        return problems
    labels_size = (ids.shape[1], ids.shape[0])
    if image_size is not None and labels_size != image_size:
        problems.append(
            InputFileError(
                labels,
                f"label image is {labels_size[0]}x{labels_size[1]} but its image {image.name} is "
                f"{image_size[0]}x{image_size[1]} (width x height)",
            )
        )
    unknown = unknown_ids(ids, classes)
    if unknown:
        known = ", ".join(f"{k} {name}" for k, name in sorted(classes.items()))
        problems.append(
            InputFileError(
                labels,
                f"pixel value(s) {', '.join(map(str, unknown))} are no class id (0 background; {known})",
            )
        )
    if not np.any(ids):
        problems.append(InputFileError(labels, "label image is empty: no defect pixel (every value is 0)"))
    return problems


def find_pair_problems(pairs: Iterable[Pair], *, mask_threshold: int = 128) -> list[InputFileError]:
    """Problems of every pair, in the order of ``pairs`` (see :func:`pair_problems`)."""
    problems: list[InputFileError] = []
    for image, mask in pairs:
        problems.extend(pair_problems(image, mask, mask_threshold=mask_threshold))
    return problems


def raise_if_problems(root: str | Path, problems: Sequence[InputFileError]) -> None:
    """Raise one :class:`DatasetError` for ``root`` listing ``problems``, if there are any."""
    if problems:
        logger.debug("dataset at %s has %d problem(s)", root, len(problems))
        raise DatasetError(root, problems)


def validate_pairs(pairs: Iterable[Pair], root: str | Path, *, mask_threshold: int = 128) -> None:
    """Check every (image, mask) pair and raise one :class:`DatasetError` listing all problems.

    Problems found: missing mask file, unreadable or corrupt image or mask, image and mask of different
    size, empty mask. Each problem is an :class:`InputFileError` naming the file at fault.
    """
    raise_if_problems(root, find_pair_problems(pairs, mask_threshold=mask_threshold))
