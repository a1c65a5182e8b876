"""``DefectExample``: one real defect image with its mask, the unit that training reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from defect_core.class_labels import validate_class_table
from defect_core.configs import coerce_paths, require
from defect_core.serialization import JsonDataclass

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DefectExample(JsonDataclass):
    """A defect image file, its mask file (0 / 255, same size), and what it shows.

    Readers that know defect classes also set ``labels`` (a class-index label image, uint8, 0 = background,
    k = class k, same size) and ``classes`` (``{k: name}``, background not listed; see
    :mod:`defect_core.class_labels`). The binary ``mask`` stays the view every consumer can use; for such
    readers it may be the label file itself read with ``mask_threshold=1`` (``labels > 0``).
    """

    image: Path
    mask: Path
    object_name: str
    defect_name: str
    mask_threshold: int = 128
    """Gray value from which a mask pixel is defect: 128 for 0 / 255 masks, 1 for label masks (VisA, KSDD2)."""
    labels: Path | None = None
    """Class-index label image (uint8 PNG, 0 = background, k = class k), when the reader knows classes."""
    classes: dict[int, str] = field(default_factory=dict, hash=False)
    """Class table ``{id: name}`` of ``labels`` (ids 1..255; 0 = background is implicit)."""
    caption: str | None = None
    """A sentence describing the image, when the dataset ships one (Defect Spectrum's captions)."""

    def load_mask(self) -> np.ndarray:
        """The mask as a bool array (H, W), binarized with this example's threshold."""
        if self.labels is not None and self.labels == self.mask:
            # the label file is the mask: its ids decide (a palette PNG's luminance is not its ids)
            return self.load_labels() > 0
        from defect_core.images import load_mask

        return load_mask(self.mask, threshold=self.mask_threshold)

    def load_labels(self) -> np.ndarray:
        """Class ids as uint8 (H, W): the label image, or for a binary example the mask as class 1."""
        if self.labels is None:
            return self.load_mask().astype("uint8")
        from defect_core.class_labels import load_labels

        return load_labels(self.labels)

    @property
    def class_table(self) -> dict[int, str]:
        """``classes``, or ``{1: defect_name}`` for a binary example (what multi-class consumers read)."""
        return dict(self.classes) if self.classes else {1: self.defect_name}

    def __post_init__(self) -> None:
        coerce_paths(self)
        for name in ("image", "mask"):
            require(self, isinstance(getattr(self, name), Path), name, "must be a path")
        require(
            self,
            bool(self.object_name and self.object_name.strip()),
            "object_name",
            "must be a non-empty name",
        )
        require(
            self,
            bool(self.defect_name and self.defect_name.strip()),
            "defect_name",
            "must be a non-empty name",
        )
        require(self, 1 <= self.mask_threshold <= 255, "mask_threshold", "must be in 1..255")
        require(self, self.image != self.mask, "mask", "is the same file as the image")
        require(self, self.labels is None or isinstance(self.labels, Path), "labels", "must be a path")
        require(self, self.labels != self.image, "labels", "is the same file as the image")
        try:
            object.__setattr__(self, "classes", validate_class_table(self.classes, "classes"))
        except ValueError as exc:
            raise ValueError(f"DefectExample.{exc}") from None
        require(self, self.labels is None or bool(self.classes), "classes", "must name the classes of labels")
