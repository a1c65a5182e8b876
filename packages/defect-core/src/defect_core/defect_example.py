"""``DefectExample``: one real defect image with its mask, the unit that training reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from defect_core.configs import coerce_paths, require
from defect_core.serialization import JsonDataclass

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DefectExample(JsonDataclass):
    """A defect image file, its mask file (0 / 255, same size), and what it shows."""

    image: Path
    mask: Path
    object_name: str
    defect_name: str
    mask_threshold: int = 128
    """Gray value from which a mask pixel is defect: 128 for 0 / 255 masks, 1 for label masks (VisA, KSDD2)."""

    def load_mask(self) -> np.ndarray:
        """The mask as a bool array (H, W), binarized with this example's threshold."""
        from defect_core.images import load_mask

        return load_mask(self.mask, threshold=self.mask_threshold)

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
