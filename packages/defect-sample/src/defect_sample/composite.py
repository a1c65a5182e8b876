"""Optional pixel-space composite: paste the normal image's pixels back outside a feathered mask.

Background latent replacement already keeps the latent outside the mask equal to the normal image's, but
the VAE decoder does not reproduce pixels exactly (colours drift slightly, fine texture softens), so a
generated image differs from its normal image everywhere by a little. The composite removes that drift:
outside the mask, grown by ``grow`` pixels and feathered by a box blur of radius ``feather``, the result is
the normal image exactly. RealFill composites this way (MaxFilter(3), BoxBlur(1)); DefectFill does not,
so it is off by default.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from defect_core.images import mask_to_image


def feathered_alpha(mask: np.ndarray, grow: int = 1, feather: int = 1) -> Image.Image:
    """An "L" image: 255 inside ``mask`` (bool (H, W)) grown by ``grow`` px, 0 far outside, and a
    box-blurred ramp of radius ``feather`` between."""
    if grow < 0 or feather < 0:
        raise ValueError(f"grow and feather must be >= 0, got {grow} and {feather}")
    alpha = mask_to_image(np.asarray(mask, dtype=bool))
    if grow:
        alpha = alpha.filter(ImageFilter.MaxFilter(2 * grow + 1))
    if feather:
        alpha = alpha.filter(ImageFilter.BoxBlur(feather))
    return alpha


def composite_outside_mask(
    generated: Image.Image, normal: Image.Image, mask: np.ndarray, grow: int = 1, feather: int = 1
) -> Image.Image:
    """``generated`` inside the feathered mask, ``normal`` outside (both RGB of one size)."""
    if generated.size != normal.size:
        raise ValueError(f"generated image {generated.size} and normal image {normal.size} differ in size")
    return Image.composite(
        generated.convert("RGB"), normal.convert("RGB"), feathered_alpha(mask, grow, feather)
    )
