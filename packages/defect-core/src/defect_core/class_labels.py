"""Class-index label images and their class tables: the multi-class view of a defect mask.

A label image is a uint8 array (H, W) (a grayscale PNG on disk): 0 is background and k > 0 is defect class k.
Its **class table** ``{k: name}`` names the defect classes; id 0 is never in the table, it is always the
background. The binary mask of DESIGN.md §3 stays the common view: ``labels > 0``.

The colour view uses Defect Spectrum's palette (ids 0–10 as published); ids above 10 get further colours
that differ from every earlier one, so a colour label image always decodes back to the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.errors import InputFileError
from defect_core.images import open_image

BACKGROUND_ID = 0
BACKGROUND_NAME = "background"
MAX_CLASS_ID = 255

# Defect Spectrum's rgb_mask colours, ids 0..10 (the published palette)
PUBLISHED_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (0, 0, 255),
    (0, 255, 0),
    (255, 0, 0),
    (0, 255, 255),
    (255, 0, 255),
    (255, 255, 0),
    (128, 0, 0),
    (0, 128, 0),
    (0, 0, 128),
    (128, 128, 128),
)


def _extended_palette() -> np.ndarray:
    # ids 11..255: colours from a fixed 7-level grid in a fixed shuffled order, skipping any colour already
    # used, so the table is the same on every machine and stays one-to-one
    colours = [tuple(c) for c in PUBLISHED_PALETTE]
    seen = set(colours)
    levels = (32, 64, 96, 160, 192, 224, 255)
    grid = [(r, g, b) for r in levels for g in levels for b in levels]
    order = np.random.default_rng(20240101).permutation(len(grid))
    for i in order:
        if len(colours) > MAX_CLASS_ID:
            break
        c = grid[int(i)]
        if c not in seen:
            seen.add(c)
            colours.append(c)
    return np.asarray(colours, dtype=np.uint8)


PALETTE: np.ndarray = _extended_palette()
"""(256, 3) uint8: the colour of every class id; rows 0..10 are Defect Spectrum's published palette."""


def validate_class_table(classes: Mapping[int, str], what: str = "classes") -> dict[int, str]:
    """Return ``classes`` as a plain ``{int: str}`` dict sorted by id, or raise ``ValueError`` naming the problem.

    Ids are 1..255 (0 is the background and is not listed), names are non-empty and distinct.
    JSON object keys (strings of digits) are accepted and converted.
    """
    table: dict[int, str] = {}
    for key, name in classes.items():
        try:
            k = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: class id {key!r} is not an integer") from None
        if not 1 <= k <= MAX_CLASS_ID:
            raise ValueError(
                f"{what}: class id {k} must be in 1..{MAX_CLASS_ID} (0 is the background, not listed)"
            )
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{what}: class {k} needs a non-empty name, got {name!r}")
        table[k] = name
    names = list(table.values())
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{what}: class names must be distinct; repeated: {', '.join(duplicates)}")
    return dict(sorted(table.items()))


def class_table_from_names(names: list[str] | tuple[str, ...]) -> dict[int, str]:
    """Ids 1..n for the distinct ``names`` in sorted order (stable: the same names always give the same ids)."""
    return validate_class_table({i: n for i, n in enumerate(sorted(set(names)), start=1)})


def labels_to_color(labels: np.ndarray) -> np.ndarray:
    """Colour view of a label image: uint8 (H, W) ids → uint8 (H, W, 3) RGB in :data:`PALETTE`."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (H, W), got shape {labels.shape}")
    return PALETTE[labels.astype(np.uint8)]


def color_to_labels(rgb: np.ndarray, source: str | Path | None = None) -> np.ndarray:
    """Decode a colour label image (H, W, 3) uint8 in :data:`PALETTE` into ids (H, W) uint8.

    A colour that is no palette entry raises :class:`InputFileError` (``ValueError`` without ``source``)
    listing the unknown colours.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"a colour label image is (H, W, 3), got shape {rgb.shape}")
    rgb = rgb[..., :3].astype(np.uint32)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    palette_codes = (
        (PALETTE[:, 0].astype(np.uint32) << 16) | (PALETTE[:, 1].astype(np.uint32) << 8) | PALETTE[:, 2]
    )
    lookup = {int(c): i for i, c in enumerate(palette_codes)}
    unique, inverse = np.unique(codes, return_inverse=True)
    unknown = [int(c) for c in unique if int(c) not in lookup]
    if unknown:
        shown = ", ".join(f"({c >> 16}, {(c >> 8) & 255}, {c & 255})" for c in unknown[:8])
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        problem = f"colour(s) {shown}{more} are not in the class palette"
        if source is not None:
            raise InputFileError(source, problem)
        raise ValueError(problem)
    ids = np.asarray([lookup[int(c)] for c in unique], dtype=np.uint8)
    return ids[inverse.reshape(codes.shape)]


def load_labels(path: str | Path) -> np.ndarray:
    """Read a class-index label PNG as uint8 (H, W); a colour (RGB) file is decoded with :data:`PALETTE`.

    Palette-mode PNGs are read as their indices (that is how such files store ids). Raises
    :class:`InputFileError` naming the file when it cannot be read or holds values outside 0..255.
    """
    im = open_image(path)
    if im.mode in ("L", "P"):
        return np.asarray(im, dtype=np.uint8)
    if im.mode in ("I", "I;16", "I;16B"):
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > MAX_CLASS_ID):
            raise InputFileError(path, f"class ids must be in 0..{MAX_CLASS_ID}, found up to {arr.max()}")
        return arr.astype(np.uint8)
    if im.mode in ("RGB", "RGBA"):
        return color_to_labels(np.asarray(im.convert("RGB")), source=path)
    raise InputFileError(path, f"cannot be read as a class-index label image (mode {im.mode})")


def labels_image(labels: np.ndarray) -> Image.Image:
    """A label array (H, W) with ids 0..255 as an 8-bit grayscale image (values are the ids, unscaled)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (H, W), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > MAX_CLASS_ID):
        raise ValueError(f"class ids must be in 0..{MAX_CLASS_ID}")
    return Image.fromarray(labels.astype(np.uint8), mode="L")


def labels_color_image(labels: np.ndarray) -> Image.Image:
    """The colour view of :func:`labels_to_color` as an RGB image."""
    return Image.fromarray(labels_to_color(labels), mode="RGB")


def unknown_ids(labels: np.ndarray, classes: Mapping[int, str]) -> list[int]:
    """Ids present in ``labels`` that are neither background nor in ``classes``, sorted."""
    present = np.unique(np.asarray(labels))
    allowed = {BACKGROUND_ID, *(int(k) for k in classes)}
    return [int(v) for v in present if int(v) not in allowed]
