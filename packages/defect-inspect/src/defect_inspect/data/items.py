"""``InspectionItem``: one image that an inspection model trains or is tested on, with its label and mask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

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
    """

    image: Path
    mask: Path | None
    label: str
    source: str
    mask_threshold: int = 128

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


def label_counts(items: list[InspectionItem]) -> dict[str, int]:
    """Number of items per label, labels sorted."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.label] = counts.get(item.label, 0) + 1
    return dict(sorted(counts.items()))
