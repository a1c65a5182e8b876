"""Training crops of real surface photographs that registry packages ship, with a held-out strip.

The photographs are scikit-image's ``brick``, ``grass`` and ``gravel`` (512 x 512 grey, in
``skimage/data``), tinted to RGB by :func:`defect_core.builtin.surface_photos.load_surface_photo` so that the
model knows the surfaces the demo data shows. No other texture photograph ships inside the installed
packages (the rest of ``skimage.data`` are portraits, cells, astronomy; scikit-learn's two JPEGs are a
temple and a flower), so these three are the whole set.

Every photograph keeps its right ``held_out_fraction`` of columns (default the right quarter) for
evaluation: training crops are drawn from the columns left of it only, evaluation crops from the strip
only, so a fill test on held-out crops measures generalisation, not memory. scikit-image is imported
lazily (``defect-core[demo]``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from PIL import Image

from defect_core.builtin.surface_photos import HELD_OUT_FRACTION, held_out_boundary, load_surface_photo

logger = logging.getLogger(__name__)

Split = Literal["train", "held_out"]
Box = tuple[int, int, int, int]


def split_columns(width: int, split: Split, held_out_fraction: float) -> tuple[int, int]:
    """Columns ``[x0, x1)`` of a photograph of ``width`` that ``split`` may use.

    The held-out strip is the right ``ceil(held_out_fraction * width)`` columns; training uses the rest.
    """
    boundary = held_out_boundary(width, held_out_fraction)
    if split == "train":
        return 0, boundary
    if split == "held_out":
        return boundary, width
    raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")


def sample_crop_box(
    shape: tuple[int, int],
    split: Split,
    rng: np.random.Generator,
    min_side: int,
    max_side: int,
    held_out_fraction: float = HELD_OUT_FRACTION,
) -> Box:
    """A square crop ``(y0, x0, y1, x1)`` (end exclusive) of a photograph of ``shape`` = (H, W), inside
    the columns of ``split``; its side is uniform in ``[min_side, max_side]``, clipped to what fits."""
    height, width = shape
    x_lo, x_hi = split_columns(width, split, held_out_fraction)
    fits = min(height, x_hi - x_lo)
    if fits < 1 or min_side < 1 or min_side > max_side:
        raise ValueError(
            f"cannot crop sides {min_side}..{max_side} from {split} columns [{x_lo}, {x_hi}) "
            f"of a {height}x{width} photograph"
        )
    side = int(rng.integers(min(min_side, fits), min(max_side, fits) + 1))
    y0 = int(rng.integers(0, height - side + 1))
    x0 = int(rng.integers(x_lo, x_hi - side + 1))
    return y0, x0, y0 + side, x0 + side


class TextureCrops:
    """Random square views of surface photographs, resized to ``size``, turned by k·90° and flipped.

    ``photos`` maps a surface name to its uint8 (H, W, 3) photograph; :meth:`from_surfaces` loads the
    shipped ones. All randomness comes from the ``numpy.random.Generator`` passed to :meth:`draw`.
    """

    def __init__(
        self,
        photos: Mapping[str, np.ndarray],
        size: int,
        min_side: int,
        max_side: int,
        held_out_fraction: float = HELD_OUT_FRACTION,
    ) -> None:
        if not photos:
            raise ValueError("photos must name at least one surface")
        self.photos = {name: np.ascontiguousarray(p) for name, p in photos.items()}
        self.names = sorted(self.photos)
        self.size = size
        self.min_side = min_side
        self.max_side = max_side
        self.held_out_fraction = held_out_fraction

    @classmethod
    def from_surfaces(
        cls,
        names: Sequence[str],
        size: int,
        min_side: int,
        max_side: int,
        held_out_fraction: float = HELD_OUT_FRACTION,
    ) -> TextureCrops:
        return cls({n: load_surface_photo(n) for n in names}, size, min_side, max_side, held_out_fraction)

    def draw(
        self, rng: np.random.Generator, count: int, split: Split = "train"
    ) -> tuple[torch.Tensor, list[str]]:
        """``count`` crops of ``split``: float (count, 3, size, size) in [-1, 1], and each crop's surface."""
        arrays, surfaces = [], []
        for _ in range(count):
            name = self.names[int(rng.integers(0, len(self.names)))]
            photo = self.photos[name]
            y0, x0, y1, x1 = sample_crop_box(
                photo.shape[:2], split, rng, self.min_side, self.max_side, self.held_out_fraction
            )
            view = Image.fromarray(photo[y0:y1, x0:x1]).resize(
                (self.size, self.size), Image.Resampling.LANCZOS
            )
            arr = np.rot90(np.asarray(view), k=int(rng.integers(0, 4)))
            if rng.random() < 0.5:
                arr = arr[:, ::-1]
            arrays.append(arr)
            surfaces.append(name)
        batch = torch.from_numpy(np.stack(arrays).astype(np.float32)).permute(0, 3, 1, 2)
        return batch / 127.5 - 1.0, surfaces
