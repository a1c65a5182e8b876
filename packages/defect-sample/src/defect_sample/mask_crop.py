"""``padding_mask_crop``: generate in a crop around the mask at the full working size, then paste it back.

diffusers' meaning (``StableDiffusion[XL]InpaintPipeline(padding_mask_crop=N)``), done with diffusers' own
image-processor functions so that it stays that meaning:

1. the mask's bounding box, N px of margin on each side, widened or heightened to the working aspect
   (``VaeImageProcessor.get_crop_region``);
2. the image and the mask cropped there and resized to the working size, aspect kept and any gap filled
   from the border (``resize_mode="fill"``, Lanczos); the mask binarised at 0.5 afterwards;
3. after generation, the result resized back to the crop's size and pasted into the original image, whose
   pixels are kept wherever the original mask is 0 (``apply_overlay``): outside the mask the output is the
   input, exactly.

A small defect thus gets the model's whole resolution (DIAG: ``padding_mask_crop=2`` on 1024² images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


def _processor():
    from diffusers.image_processor import VaeImageProcessor

    # the stock pipelines' image processor: Lanczos resampling
    return VaeImageProcessor()


def _mask_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8), mode="L")


@dataclass(frozen=True)
class MaskCrop:
    """Where one item was cropped: ``box`` (x0, y0, x1, y1) in the working image, and the working size."""

    box: tuple[int, int, int, int]
    size: tuple[int, int]  # (width, height)


def crop_around_mask(mask: np.ndarray, size: tuple[int, int], padding: int) -> MaskCrop:
    """The crop box of a bool (H, W) mask with ``padding`` px of margin, at the aspect of ``size`` (W, H)."""
    if padding < 0:
        raise ValueError(f"padding_mask_crop must be >= 0, got {padding}")
    if not np.asarray(mask).any():
        raise ValueError("padding_mask_crop: the mask is empty, there is nothing to crop around")
    box = _processor().get_crop_region(_mask_image(mask), size[0], size[1], pad=padding)
    return MaskCrop(tuple(int(v) for v in box), (int(size[0]), int(size[1])))


def crop_pair(image: Image.Image, mask: np.ndarray, crop: MaskCrop) -> tuple[Image.Image, np.ndarray]:
    """The image (RGB) and bool mask of ``crop.box``, resized to the working size as the stock pipelines
    resize them."""
    processor = _processor()
    width, height = crop.size
    region = image.convert("RGB").crop(crop.box)
    region = processor.resize(region, height=height, width=width, resize_mode="fill")
    mask_region = processor.resize(
        _mask_image(mask).crop(crop.box), height=height, width=width, resize_mode="fill"
    )
    # the mask processor's binarisation: values in [0, 1], >= 0.5 is the region to fill
    binary = np.asarray(mask_region.convert("L"), dtype=np.float32) / 255.0 >= 0.5
    return region, binary


def paste_back(generated: Image.Image, image: Image.Image, mask: np.ndarray, crop: MaskCrop) -> Image.Image:
    """``generated`` (working size) resized into ``crop.box`` of ``image``; ``image``'s pixels wherever the
    bool ``mask`` (of ``image``) is False."""
    return _processor().apply_overlay(_mask_image(mask), image.convert("RGB"), generated, crop.box)
