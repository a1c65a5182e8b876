"""Where a region (the bool (H, W) mask to fill) comes from: the editor's brush strokes, clicked corners of a
rectangle or polygon, an uploaded mask, a generated shape placed on the object, or a real dataset mask.

Every function returns a mask of the normal image's size, checked by ``defect_core.masks.validate_mask``
(not empty, not the whole image), or raises an error whose message the page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from defect_core.errors import InputFileError
from defect_core.images import load_mask
from defect_core.masks import validate_mask
from defect_core.masks.placement import estimate_foreground, generate_placed_mask
from defect_sample.review.uploads import UploadLimits, read_upload

REGION_RGBA = (255, 32, 32, 153)
"""How a region shows on the editor's layer: red at 60 % opacity, the brush's own colour."""
REGION_MIN_ALPHA = 32
"""Alpha from which a painted pixel belongs to the region (drops the faintest anti-aliased brush edge)."""


def mask_from_layers(layers: Sequence[np.ndarray | None], size: tuple[int, int]) -> np.ndarray:
    """The union of the editor's paint layers, each uint8 RGBA (H, W, 4), as a bool (H, W) mask.

    ``size`` is the normal image's (width, height); a layer of another size (a canvas that no longer
    shows the picked image) is an error.
    """
    width, height = size
    mask = np.zeros((height, width), dtype=bool)
    for layer in layers:
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.shape[:2] != (height, width):
            raise InputFileError(
                Path("<editor>"),
                f"the drawing is {layer.shape[1]}x{layer.shape[0]} px but the "
                f"image is {width}x{height}; pick the image again",
            )
        alpha = layer[..., 3] if layer.ndim == 3 and layer.shape[2] == 4 else np.asarray(layer).max(axis=-1)
        mask |= alpha >= REGION_MIN_ALPHA
    return validate_mask(mask, size, "<drawn region>")


def region_layer(mask: np.ndarray) -> np.ndarray:
    """A bool (H, W) mask as an editor layer: uint8 RGBA (H, W, 4), :data:`REGION_RGBA` inside, clear outside."""
    mask = np.asarray(mask, dtype=bool)
    layer = np.zeros((*mask.shape, 4), dtype=np.uint8)
    layer[mask] = REGION_RGBA
    return layer


def mask_from_upload(
    path: str | Path, size: tuple[int, int], threshold: int, limits: UploadLimits, name: str | None = None
) -> np.ndarray:
    """An uploaded mask file (white = defect, gray level >= ``threshold``) of exactly the image's ``size``.

    A mask of another size is refused rather than resized: the expert drew it for a picture of that size,
    and a silent resize would move the defect.
    """
    read_upload(path, limits, name)  # the limits and a full decode, before the mask is read
    label = Path(name or Path(path).name)
    mask = load_mask(path, threshold=threshold)
    width, height = size
    if mask.shape != (height, width):
        raise InputFileError(
            label,
            f"mask is {mask.shape[1]}x{mask.shape[0]} px but the image is "
            f"{width}x{height}; upload a mask of the image's size",
        )
    return validate_mask(mask, size, label)


def shape_region(kind: str, image: Image.Image, seed: int, shape_size: tuple[float, ...] = ()) -> np.ndarray:
    """A generated ``kind`` shape (``defect_core.masks.shapes``) placed on the object's estimated foreground,
    drawn from ``numpy.random.default_rng(seed)``, as ``defect-sample --shapes`` places it."""
    params = {"min_frac": shape_size[0], "max_frac": shape_size[1]} if shape_size else {}
    rng = np.random.default_rng(seed)
    try:
        mask = generate_placed_mask(
            kind, (image.height, image.width), estimate_foreground(image), rng, **params
        )
    except ValueError as exc:
        raise InputFileError(Path(f"<shape {kind}>"), f"cannot be placed on this image ({exc})") from exc
    return validate_mask(mask, image.size, f"<shape {kind}>")


def polygon_region(points: Sequence[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    """The filled polygon through clicked ``points`` (x, y) in image pixels; two points make the rectangle
    they are opposite corners of."""
    points = [(float(x), float(y)) for x, y in points]
    if len(points) < 2:
        raise InputFileError(
            Path("<clicked corners>"),
            "click at least two corners (two: a rectangle, three or more: a polygon)",
        )
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=255)
    else:
        draw.polygon(points, fill=255, outline=255)
    return validate_mask(np.asarray(canvas) > 0, size, "<clicked corners>")
