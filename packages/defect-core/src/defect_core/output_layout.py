"""The generation output folder of DESIGN.md §3, readable by anomalib's ``Folder`` datamodule as it is.

```
out/defect/<stem>.png  out/mask/<stem>.png  out/candidates/<stem>_<k>.png  out/manifest.jsonl  out/preview.png
out/labels/<stem>.png  out/labels_color/<stem>.png     (only items with defect classes)
```

``mask/`` stays 0 / 255 (the union of the classes) so that anomalib reads the folder as it is; the class ids
live in ``labels/`` (uint8, 0 = background) and, for people, in ``labels_color/`` (Defect Spectrum's palette).

Every file is written atomically and the manifest line is appended last: an item is finished exactly when
its record is in the manifest, so a resumed job skips finished items and redoes a half-written one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.class_labels import labels_color_image, labels_image, unknown_ids
from defect_core.images import mask_to_image
from defect_core.manifest import MANIFEST_NAME, append_record, read_manifest
from defect_core.preview import preview_grid
from defect_core.sample_record import SampleRecord

DEFECT_DIR, MASK_DIR, CANDIDATE_DIR, PREVIEW_NAME = "defect", "mask", "candidates", "preview.png"
LABELS_DIR, LABELS_COLOR_DIR = "labels", "labels_color"


class GenerationWriter:
    """Writes generated items into ``out_dir`` and tells which items are already finished."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir).resolve()
        (self.out_dir / DEFECT_DIR).mkdir(parents=True, exist_ok=True)
        (self.out_dir / MASK_DIR).mkdir(parents=True, exist_ok=True)

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST_NAME

    def records(self) -> list[SampleRecord]:
        """Intact records of the manifest whose image and mask files exist."""
        return [
            r
            for r in read_manifest(self.manifest_path)
            if r.image.is_file() and r.mask.is_file() and (r.labels is None or r.labels.is_file())
        ]

    def finished_item_ids(self) -> set[str]:
        """Ids of the items that need no more work."""
        return {r.item_id for r in self.records()}

    def write_item(
        self,
        record: SampleRecord,
        image: Image.Image,
        mask: np.ndarray,
        candidates: Sequence[Image.Image] = (),
        labels: np.ndarray | None = None,
    ) -> SampleRecord:
        """Write the image, its mask (bool (H, W) → 0 / 255) and optional candidates, then log the record.

        ``labels`` (uint8 (H, W) class ids, ids from ``record.classes``) is written to ``labels/`` and
        ``labels_color/``; ``mask`` must then equal ``labels > 0``. The record's ``image``, ``mask``,
        ``candidates`` and ``labels`` are replaced by the paths actually written, named after ``record.item_id``.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (image.height, image.width):
            raise ValueError(f"item {record.item_id}: mask {mask.shape} does not match image {image.size}")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != mask.shape:
                raise ValueError(
                    f"item {record.item_id}: labels {labels.shape} do not match image {image.size}"
                )
            if not record.classes:
                raise ValueError(f"item {record.item_id}: labels given but the record has no class table")
            unknown = unknown_ids(labels, record.classes)
            if unknown:
                raise ValueError(
                    f"item {record.item_id}: label value(s) {unknown} are not class ids of {record.classes}"
                )
            if not np.array_equal(labels > 0, mask):
                raise ValueError(f"item {record.item_id}: mask is not the union of the labels (labels > 0)")
        stem = record.item_id
        if "/" in stem or "\\" in stem or stem.startswith("."):
            # the id is the file stem: a separator would write outside defect/ and mask/, a leading dot
            # would hide the file from readers that skip hidden files (list_images does)
            raise ValueError(
                f"item {stem!r}: item_id must be a plain file stem (no path separator, no leading dot)"
            )
        image_path = save_image_atomic(image.convert("RGB"), self.out_dir / DEFECT_DIR / f"{stem}.png")
        mask_path = save_image_atomic(mask_to_image(mask), self.out_dir / MASK_DIR / f"{stem}.png")
        cand_paths = tuple(
            save_image_atomic(c.convert("RGB"), self.out_dir / CANDIDATE_DIR / f"{stem}_{k}.png")
            for k, c in enumerate(candidates)
        )
        labels_path = None
        if labels is not None:
            save_image_atomic(labels_color_image(labels), self.out_dir / LABELS_COLOR_DIR / f"{stem}.png")
            labels_path = save_image_atomic(labels_image(labels), self.out_dir / LABELS_DIR / f"{stem}.png")
        final = dataclasses.replace(
            record, image=image_path, mask=mask_path, candidates=cand_paths, labels=labels_path
        )
        append_record(self.manifest_path, final)
        return final

    def write_preview(
        self, rows: Sequence[tuple[Image.Image, np.ndarray, Image.Image]], cell: int = 128, **_: Any
    ) -> Path:
        """Write ``preview.png`` (normal | mask overlay | generated per row)."""
        return save_image_atomic(preview_grid(rows, cell=cell), self.out_dir / PREVIEW_NAME)
