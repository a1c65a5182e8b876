"""Preview pictures keep each image's aspect ratio: a non-square defect is shown with its real shape."""

from __future__ import annotations

import numpy as np
from PIL import Image

from defect_core.preview import image_grid


def test_a_tall_image_keeps_its_aspect_in_its_cell() -> None:
    tall = Image.new("RGB", (64, 176), (0, 0, 0))  # KSDD2-like strip, black on the grid's white
    grid = np.asarray(image_grid([[tall]], cell=88))
    ys, xs = np.nonzero(grid.sum(axis=2) < 60)
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert (height, width) == (88, 32)  # 176 x 64 scaled by 0.5, not squashed to 88 x 88
    # centred in its 88-px cell (2-px padding in front of the cell)
    assert xs.min() == 2 + (88 - 32) // 2


def test_square_images_fill_their_cell_as_before() -> None:
    square = Image.new("RGB", (50, 50), (0, 0, 0))
    grid = np.asarray(image_grid([[square, square]], cell=40))
    ys, xs = np.nonzero(grid.sum(axis=2) < 60)
    assert ys.max() - ys.min() + 1 == 40 and xs.max() - xs.min() + 1 == 2 * 40 + 2
    assert np.all(grid[ys.min() : ys.max() + 1, 2:42] < 60)
