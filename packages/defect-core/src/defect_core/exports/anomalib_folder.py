"""An anomalib Folder dataset (MVTec-like): ``good/`` defect-free images, ``defect/<stem>.<ext>`` defect
images, ``mask/<stem>_mask.png`` their masks (0 / 255, the union of the classes).

Read it with ``anomalib.data.Folder(name=..., root=OUT, normal_dir="good", abnormal_dir="defect",
mask_dir="mask")``. anomalib pairs images and masks by sorting each folder's paths and checks that every
image stem is contained in its mask's stem; ``<stem>_mask`` can sort differently from ``<stem>``
(``a1`` < ``a10`` but ``a10_mask`` < ``a1_mask``), so when the stems would pair wrongly the items are
numbered instead (``000``, ``001``, ..., MVTec AD's own names) and ``export_index.jsonl`` maps them back.
Without known defect-free images there is no ``good/`` (anomalib's Folder needs one: add it yourself).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from defect_core.atomic import save_image_atomic
from defect_core.exports.prepared import PreparedItem
from defect_core.exports.sources import ExportItem
from defect_core.exports.writer import ExportWriter, copy_file, register_format
from defect_core.images import mask_to_image

logger = logging.getLogger(__name__)

NORMAL_DIR, DEFECT_DIR, MASK_DIR = "good", "defect", "mask"
MASK_SUFFIX = "_mask"


def pairs_as_anomalib_sorts(image_names: Sequence[str]) -> bool:
    """True when anomalib's rule (sort images, sort masks, pair in order; the image stem must be in the mask
    stem) pairs every image name with its own ``<stem>_mask.png``."""
    masks = {Path(name).stem + MASK_SUFFIX + ".png": name for name in image_names}
    return all(masks[m] == i for i, m in zip(sorted(image_names), sorted(masks), strict=True))


@register_format("anomalib")
class AnomalibFolderWriter(ExportWriter):
    """Copies images, writes masks; the defect-free images go to ``good/``."""

    image_dir = DEFECT_DIR
    annotation_kind = "mask"
    uses_normals = True

    def name_images(self, items: Sequence[ExportItem]) -> dict[str, str]:
        names = super().name_images(items)
        if pairs_as_anomalib_sorts(list(names.values())):
            return names
        width = max(3, len(str(len(items) - 1)))
        logger.warning(
            "item names would pair with the wrong masks in anomalib (it pairs by sort order): numbering the "
            "items 000.. instead; export_index.jsonl maps the numbers to the items"
        )
        return {
            item.stem: f"{i:0{width}d}{item.example.image.suffix.lower()}" for i, item in enumerate(items)
        }

    def add(self, item: PreparedItem) -> None:
        target = copy_file(item.image, self.image_path(item.stem))
        mask_name = f"{Path(target.name).stem}{MASK_SUFFIX}.png"
        save_image_atomic(mask_to_image(item.labels > 0), self.folder / MASK_DIR / mask_name)
        self.annotations_written += 1

    def add_normals(self, normals: Sequence[Path]) -> int:
        if not normals:
            logger.warning(
                "no defect-free images known: %s/ not written (anomalib's Folder needs it)", NORMAL_DIR
            )
            return 0
        used: set[str] = set()
        for path in normals:
            name, k = path.name, 1
            while name.lower() in used:  # two source folders may hold the same file name
                name, k = f"{path.stem}_{k}{path.suffix}", k + 1
            used.add(name.lower())
            copy_file(path, self.folder / NORMAL_DIR / name)
        return len(normals)
