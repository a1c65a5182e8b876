"""The VAE stage's random marks: seeded, in range, confined to what they paint, at the asked rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from defect_train.base_model.marks import add_random_marks


def _images(count: int = 8, size: int = 32) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_marks_are_seeded_in_range_and_leave_the_input_alone() -> None:
    images = _images()
    before = images.clone()
    a = add_random_marks(images, np.random.default_rng(3), probability=1.0)
    b = add_random_marks(images, np.random.default_rng(3), probability=1.0)
    assert torch.equal(images, before)  # a copy, not in place
    assert torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1
    changed = (a != images).any(dim=1)  # (B, H, W): where some channel was painted
    assert changed.flatten(1).any(dim=1).all()  # every image got a mark
    assert (changed.flatten(1).float().mean(dim=1) < 0.9).all()  # marks, not repaints of the whole image


def test_a_marked_pixel_is_a_blend_towards_one_colour() -> None:
    # one flat grey image: every painted pixel must lie on a segment from grey towards some colour in [-1, 1]³
    flat = torch.zeros(1, 3, 32, 32)
    rng = np.random.default_rng(11)
    marked = add_random_marks(flat, rng, probability=1.0, max_marks=1)[0]
    painted = (marked != 0).any(dim=0)
    assert painted.any()
    colours = marked[:, painted].T  # (P, 3) = alpha * colour, alpha in (0, 1]
    direction = colours / colours.norm(dim=1, keepdim=True)
    assert torch.allclose(direction, direction[:1].expand_as(direction), atol=1e-4)


def test_probability_sets_the_share_of_marked_images() -> None:
    images = _images(count=400, size=16)
    assert torch.equal(add_random_marks(images, np.random.default_rng(0), probability=0.0), images)
    marked = (add_random_marks(images, np.random.default_rng(0), probability=0.5) != images).flatten(1).any(1)
    assert 160 <= int(marked.sum()) <= 240  # binomial(400, 0.5): mean 200, sd 10
    with pytest.raises(ValueError, match="probability"):
        add_random_marks(images, np.random.default_rng(0), probability=1.5)
    with pytest.raises(ValueError, match="square"):
        add_random_marks(torch.zeros(1, 3, 8, 16), np.random.default_rng(0), probability=1.0)
