"""Cut-paste defects: the classical baseline of the defect-generation papers ("Crop&Paste").

A real training defect is cut out along its mask, turned by a random multiple of 90°, maybe mirrored, and
pasted at a random position of a defect-free image where it lies entirely on the object (the foreground of
:func:`defect_core.masks.placement.estimate_foreground`; the whole image for textures). The pasted pixels are
exactly the new mask, so the result is a labelled defect image like a generated one. DFMGAN,
AnomalyDiffusion and DefectFill report inspection models trained on such data beside their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.images import load_rgb, mask_to_image
from defect_core.masks import mask_bbox, resize_mask
from defect_core.masks.placement import estimate_foreground, place_mask
from defect_core.output_layout import DEFECT_DIR, MASK_DIR, PREVIEW_NAME
from defect_core.preview import preview_grid
from defect_inspect.data.items import InspectionItem

logger = logging.getLogger(__name__)

PROVENANCE_NAME = "cut_paste.jsonl"


def _transform(patch: np.ndarray, patch_mask: np.ndarray, rng: np.random.Generator, limit: tuple[int, int]):
    turns = int(rng.integers(0, 4))
    mirror = bool(rng.random() < 0.5)
    turned = np.rot90(patch, turns), np.rot90(patch_mask, turns)
    # a quarter turn of a long patch may not fit a non-square image: then keep its orientation
    if turned[1].shape[0] > limit[0] or turned[1].shape[1] > limit[1]:
        turned = patch, patch_mask
    if mirror:
        turned = turned[0][:, ::-1], turned[1][:, ::-1]
    return np.ascontiguousarray(turned[0]), np.ascontiguousarray(turned[1])


def cut_paste(
    defect_image: np.ndarray, defect_mask: np.ndarray, normal: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paste the masked region of ``defect_image`` into ``normal``; return (image, mask).

    ``defect_image`` and ``normal``: uint8 (H, W, 3) (the defect image is first resized to the normal's
    size if it differs); ``defect_mask``: bool (H', W') of the defect image, non-empty. The result is uint8
    (H, W, 3) equal to ``normal`` outside the returned bool (H, W) mask and to the (turned, mirrored)
    defect pixels inside it.
    """
    normal = np.asarray(normal)
    defect_image = np.asarray(defect_image)
    defect_mask = np.asarray(defect_mask, dtype=bool)
    for name, array in (("normal", normal), ("defect_image", defect_image)):
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{name} must be uint8 (H, W, 3), got {array.dtype} {array.shape}")
    if defect_mask.shape != defect_image.shape[:2]:
        raise ValueError(
            f"defect_mask {defect_mask.shape} does not match defect_image {defect_image.shape[:2]}"
        )
    height, width = normal.shape[:2]
    if defect_image.shape[:2] != (height, width):
        defect_image = np.asarray(
            Image.fromarray(defect_image).resize((width, height), Image.Resampling.BILINEAR)
        )
        defect_mask = resize_mask(defect_mask, (width, height))
    y0, x0, y1, x1 = mask_bbox(defect_mask)  # raises for an empty mask
    patch, patch_mask = _transform(
        defect_image[y0:y1, x0:x1], defect_mask[y0:y1, x0:x1], rng, (height, width)
    )
    try:
        placed = place_mask(patch_mask, estimate_foreground(normal), rng)
    except ValueError:
        # the object is smaller than the defect: anywhere in the image then
        placed = place_mask(patch_mask, np.ones((height, width), dtype=bool), rng)
    top, left, _, _ = mask_bbox(placed)
    out = normal.copy()
    region = out[top : top + patch.shape[0], left : left + patch.shape[1]]
    region[patch_mask] = patch[patch_mask]
    return out, placed


def write_cut_paste_set(
    defects: Sequence[InspectionItem],
    normals: Sequence[Path],
    out_dir: str | Path,
    *,
    count: int,
    seed: int = 0,
    preview_rows: int = 8,
) -> list[InspectionItem]:
    """Write ``count`` cut-paste defects into ``out_dir`` in the generation output layout; return them.

    Defect sources are used in turn (``defects[i % len]``), normal images drawn at random; everything is
    seeded. Files: ``defect/<name>_<i>.png``, ``mask/<name>_<i>.png`` (0 / 255), ``cut_paste.jsonl`` (which
    source and normal made each image) and ``preview.png``. All sources must share one defect name, which
    names the items (and ``read_generation_output(out_dir, defect_name=...)`` reads them back).
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not defects:
        raise ValueError("cut-paste needs at least one real defect image to cut from")
    if not normals:
        raise ValueError("cut-paste needs at least one defect-free image to paste into")
    names = sorted({d.label for d in defects})
    if len(names) != 1 or not defects[0].is_defect:
        raise ValueError(f"cut-paste sources must be defects of one type, got labels {names}")
    name = names[0]
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    sources = [(d, np.asarray(d.load_image()), d.load_mask()) for d in defects]
    digits = max(4, len(str(count - 1)))
    items: list[InspectionItem] = []
    lines: list[str] = []
    preview: list[tuple[Image.Image, np.ndarray, Image.Image]] = []
    for index in range(count):
        source, source_image, source_mask = sources[index % len(sources)]
        normal_path = normals[int(rng.integers(0, len(normals)))]
        normal = np.asarray(load_rgb(normal_path))
        image, mask = cut_paste(source_image, source_mask, normal, rng)
        stem = f"{name}_{index:0{digits}d}"
        image_path = save_image_atomic(Image.fromarray(image), out_dir / DEFECT_DIR / f"{stem}.png")
        mask_path = save_image_atomic(mask_to_image(mask), out_dir / MASK_DIR / f"{stem}.png")
        items.append(InspectionItem(image_path, mask_path, name, "cut-paste"))
        lines.append(
            json.dumps(
                {
                    "image": f"{DEFECT_DIR}/{stem}.png",
                    "mask": f"{MASK_DIR}/{stem}.png",
                    "source_image": str(source.image),
                    "source_mask": str(source.mask),
                    "normal": str(normal_path),
                    "defect_name": name,
                }
            )
        )
        if len(preview) < preview_rows:
            preview.append((Image.fromarray(normal), mask, Image.fromarray(image)))
    write_text_atomic(out_dir / PROVENANCE_NAME, "\n".join(lines) + "\n")
    save_image_atomic(preview_grid(preview), out_dir / PREVIEW_NAME)
    logger.info("wrote %d cut-paste %s defect(s) to %s", count, name, out_dir)
    return items
