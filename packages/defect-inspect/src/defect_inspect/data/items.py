"""``InspectionItem``: one image that an inspection model trains or is tested on, with its label and mask."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.class_labels import load_labels
from defect_core.images import load_mask, load_rgb

#: Label of a defect-free image (anomalib's ``normal_dir`` name, MVTec's folder name).
GOOD = "good"

#: Where an item comes from; reports count items per source.
SOURCES = ("generated", "real", "normal", "cut-paste")


@dataclass(frozen=True)
class InspectionItem:
    """An image file, its mask file (``None``: defect-free, an all-False mask) and its class.

    ``label`` is the defect name, or :data:`GOOD` for a defect-free image; ``mask_threshold`` is the gray
    level from which a mask pixel is defect (128 for 0 / 255 masks, 1 for label masks such as KSDD2's).
    A defect item whose source knows defect classes also has ``labels``, a class-index label image (uint8,
    0 = background), and ``classes``, its class table ``{id: name}`` (:mod:`defect_core.class_labels`);
    the binary mask stays what the binary tasks read.
    """

    image: Path
    mask: Path | None
    label: str
    source: str
    mask_threshold: int = 128
    labels: Path | None = None
    classes: dict[int, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", Path(self.image))
        if self.mask is not None:
            object.__setattr__(self, "mask", Path(self.mask))
        if not self.label or not self.label.strip():
            raise ValueError(f"InspectionItem.label={self.label!r}: must be a non-empty name")
        if self.source not in SOURCES:
            raise ValueError(f"InspectionItem.source={self.source!r}: must be one of {SOURCES}")
        if (self.label == GOOD) != (self.mask is None):
            raise ValueError(
                f"InspectionItem {self.image}: label {self.label!r} with mask {self.mask}: a {GOOD!r} item has "
                "no mask and a defect item has one"
            )
        if not 1 <= self.mask_threshold <= 255:
            raise ValueError(f"InspectionItem.mask_threshold={self.mask_threshold!r}: must be in 1..255")
        if self.labels is not None:
            object.__setattr__(self, "labels", Path(self.labels))
        if (self.labels is None) != (not self.classes) or (self.labels is not None and not self.is_defect):
            raise ValueError(
                f"InspectionItem {self.image}: labels {self.labels} and classes {self.classes} go together, on a "
                "defect item"
            )

    @property
    def is_defect(self) -> bool:
        """True for a defect image, False for a defect-free one."""
        return self.label != GOOD

    def load_image(self) -> Image.Image:
        """The image as PIL RGB; an unreadable file raises ``InputFileError`` naming it."""
        return load_rgb(self.image)

    def load_mask(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The mask as bool (H, W); all False for a defect-free item, whose ``size`` (width, height) is then
        needed (or read from the image)."""
        if self.mask is not None:
            return load_mask(self.mask, threshold=self.mask_threshold)
        width, height = size if size is not None else self.load_image().size
        return np.zeros((height, width), dtype=bool)

    @property
    def class_table(self) -> dict[int, str]:
        """The classes of :meth:`load_labels`' ids: ``classes``, ``{1: label}`` for a binary defect item, and
        none for a defect-free one."""
        if self.classes:
            return dict(self.classes)
        return {1: self.label} if self.is_defect else {}

    def load_labels(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """Class ids uint8 (H, W) of :attr:`class_table`: the label image, or else the mask as class 1 (all 0
        for a defect-free item, whose ``size`` (width, height) is then needed or read from the image)."""
        if self.labels is not None:
            return load_labels(self.labels)
        return self.load_mask(size).astype(np.uint8)


def label_counts(items: list[InspectionItem]) -> dict[str, int]:
    """Number of items per label, labels sorted."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.label] = counts.get(item.label, 0) + 1
    return dict(sorted(counts.items()))
