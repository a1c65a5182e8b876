"""``DefectExample``: one real defect image with its mask, the unit that training reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from defect_core.serialization import JsonDataclass, require


@dataclass(frozen=True)
class DefectExample(JsonDataclass):
    """A defect image file, its mask file (0 / 255, same size), and what it shows."""

    image: Path
    mask: Path
    object_name: str
    defect_name: str
    mask_threshold: int = 128
    """Gray value from which a mask pixel is defect: 128 for 0 / 255 masks, 1 for label masks (VisA, KSDD2)."""

    def load_mask(self):  # -> numpy bool (H, W)
        """The mask as a bool array (H, W), binarized with this example's threshold."""
        from defect_core.images import load_mask

        return load_mask(self.mask, threshold=self.mask_threshold)

    def __post_init__(self) -> None:
        for name in ("image", "mask"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
            require(isinstance(getattr(self, name), Path), "DefectExample", name, value, "must be a path")
        require(bool(self.object_name and self.object_name.strip()), "DefectExample", "object_name",
                self.object_name, "must be a non-empty name")
        require(bool(self.defect_name and self.defect_name.strip()), "DefectExample", "defect_name",
                self.defect_name, "must be a non-empty name")
        require(1 <= self.mask_threshold <= 255, "DefectExample", "mask_threshold", self.mask_threshold,
                "must be in 1..255")
        require(self.image != self.mask, "DefectExample", "mask", self.mask, "is the same file as the image")
