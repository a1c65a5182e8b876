"""Masks: binary masks and their resampling (``binary``), mask shapes (``shapes``) and where they go on an
object (``placement``). The binary-mask functions are re-exported here, where every package imports them."""

from defect_core.masks.binary import (
    Box,
    binarize,
    dilate,
    erode,
    mask_area_fraction,
    mask_bbox,
    resize_mask,
    resize_mask_covering,
    validate_mask,
)

__all__ = [
    "Box",
    "binarize",
    "dilate",
    "erode",
    "mask_area_fraction",
    "mask_bbox",
    "resize_mask",
    "resize_mask_covering",
    "validate_mask",
]
