"""Real defect masks of a dataset (through ``defect_core``'s readers), offered as regions in the page.

A real mask belongs to another image of the dataset, so it is resized to the picked normal image the way
``defect-sample --masks`` resizes it (a one-pixel scratch survives shrinking).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from defect_core.defect_example import DefectExample
from defect_core.masks import resize_mask_covering, validate_mask


class DatasetMasks:
    """The real masks of one object of a dataset, by name ``<defect>/<mask file name>``."""

    def __init__(self, kind: str, root: Path | None, object_name: str, defect_name: str = "defect") -> None:
        from defect_core.datasets import open_dataset

        reader = open_dataset(kind, root, object_name=object_name, defect_name=defect_name)
        self.root = reader.root
        """The dataset folder (a built-in dataset's in the cache)."""
        reader.require_object(object_name)
        self.examples: dict[str, DefectExample] = {}
        for defect in reader.defect_names(object_name):
            for example in reader.defect_examples(object_name, defect):
                self.examples[f"{defect}/{example.mask.name}"] = example

    def names(self) -> list[str]:
        """``<defect>/<mask file name>`` of every real mask, sorted."""
        return sorted(self.examples)

    def defect_name(self, name: str) -> str:
        return self._example(name).defect_name

    def _example(self, name: str) -> DefectExample:
        if name not in self.examples:
            raise KeyError(f"no real mask {name!r} in the dataset")
        return self.examples[name]

    def path(self, name: str) -> Path:
        """The mask file of ``name``."""
        return self._example(name).mask

    def region(self, name: str, size: tuple[int, int]) -> np.ndarray:
        """The mask ``name`` at ``size`` (width, height) of the normal image, bool (H, W)."""
        example = self._example(name)
        mask = resize_mask_covering(example.load_mask(), size)
        return validate_mask(mask, size, example.mask)
