"""The UNet's latent mask (torch max-pool) follows defect-core's rule: a defect pixel marks every cell it touches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from defect_core.masks import resize_mask_covering
from defect_sample.conditioning import latent_mask, masks_to_tensor


@pytest.mark.parametrize(
    ("mask_hw", "grid_hw"),
    [
        ((64, 64), (8, 23)),  # a non-integer factor on one axis (2.78 px per cell)
        ((61, 37), (8, 5)),  # odd sizes on both axes
        ((45, 83), (7, 11)),
        ((13, 9), (13, 4)),  # one axis kept
        ((64, 48), (8, 6)),  # the aligned case
    ],
)
def test_torch_latent_mask_equals_the_numpy_rule_on_random_masks(mask_hw, grid_hw) -> None:
    rng = np.random.default_rng(sum(mask_hw) * 31 + sum(grid_hw))
    for density in (0.005, 0.05, 0.3):
        masks = [rng.random(mask_hw) < density for _ in range(3)]
        masks[0][:] = False
        masks[0][rng.integers(mask_hw[0]), rng.integers(mask_hw[1])] = True  # a single defect pixel
        cells = latent_mask(masks_to_tensor(masks), grid_hw)
        assert cells.shape == (3, 1, *grid_hw)
        assert set(torch.unique(cells).tolist()) <= {0.0, 1.0}
        expected = np.stack([resize_mask_covering(m, grid_hw[::-1]) for m in masks])
        np.testing.assert_array_equal(cells[:, 0].numpy().astype(bool), expected)


def test_latent_mask_refuses_a_grid_finer_than_the_mask() -> None:
    with pytest.raises(ValueError, match=r"latent grid \(9, 4\) is finer than the masks \(8, 8\)"):
        latent_mask(torch.zeros(1, 1, 8, 8), (9, 4))
