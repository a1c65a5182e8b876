"""The real surface photographs that ship inside a registry package, and their held-out strip.

scikit-image bundles three texture photographs (``skimage.data.brick()``, ``grass()``, ``gravel()``,
512 x 512 grey). They are tinted to RGB here so that the surfaces look like materials, and they are the
whole of the real data this project can use offline: the demo dataset, the ``builtin:texture`` base model
and the surface-strips benchmark all come from them. The right quarter of every photograph's columns is the
**held-out strip**: the base model never trains on it, so a benchmark cut from it shows the model surfaces it
has not seen. scikit-image is imported lazily (``defect-core[demo]``).
"""

from __future__ import annotations

import math

import numpy as np

# surface name -> (skimage.data function, RGB tint applied to the grey photograph)
SURFACE_PHOTOS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "brick": ("brick", (1.0, 0.72, 0.58)),
    "grass": ("grass", (0.62, 0.92, 0.45)),
    "gravel": ("gravel", (0.92, 0.88, 0.80)),
}
HELD_OUT_FRACTION = 0.25


def load_surface_photo(name: str) -> np.ndarray:
    """The tinted photograph of surface ``name``: uint8 (H, W, 3)."""
    if name not in SURFACE_PHOTOS:
        raise ValueError(f"unknown surface {name!r}; available: {', '.join(sorted(SURFACE_PHOTOS))}")
    try:
        import skimage.data
    except ImportError as exc:
        raise ImportError(
            "the surface photographs come from scikit-image's sample data: install defect-core[demo]"
        ) from exc
    function_name, tint = SURFACE_PHOTOS[name]
    grey = np.asarray(getattr(skimage.data, function_name)(), dtype=np.float32)
    if grey.ndim == 3:  # a future scikit-image could ship it in colour
        grey = grey[..., :3].mean(axis=2)
    rgb = grey[..., None] * np.asarray(tint, dtype=np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def held_out_boundary(width: int, held_out_fraction: float = HELD_OUT_FRACTION) -> int:
    """First column of the held-out strip: the right ``ceil(held_out_fraction * width)`` columns."""
    if not 0.0 < held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in (0, 1), got {held_out_fraction}")
    return width - math.ceil(held_out_fraction * width)
