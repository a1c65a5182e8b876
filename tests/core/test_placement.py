"""Foreground estimation and placing generated shapes on it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from defect_core.masks.placement import estimate_foreground, generate_placed_mask, place_mask


def _object_on_background(size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright noisy disc on a dark noisy background, and the disc's true mask."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(20, 4, (size, size, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size // 2) ** 2 + (xx - size // 2 + 8) ** 2 < (size * 0.3) ** 2
    image[disc] = np.clip(rng.normal(160, 15, (int(disc.sum()), 3)), 0, 255).astype(np.uint8)
    return image, disc


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_foreground_of_an_object_on_plain_background_is_the_object():
    image, disc = _object_on_background()
    fg = estimate_foreground(image)
    assert fg.dtype == np.bool_ and fg.shape == disc.shape
    assert _iou(fg, disc) > 0.97


def test_foreground_accepts_pil_and_grey_images():
    image, disc = _object_on_background()
    np.testing.assert_array_equal(estimate_foreground(Image.fromarray(image)), estimate_foreground(image))
    grey = image[..., 0]
    assert _iou(estimate_foreground(grey), disc) > 0.97


def test_isolated_noisy_background_pixels_are_removed():
    image, disc = _object_on_background()
    image[5, 100] = 255  # a hot pixel far from the object
    fg = estimate_foreground(image)
    assert not fg[5, 100]
    assert _iou(fg, disc) > 0.97


def test_textures_give_an_all_true_foreground():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    assert estimate_foreground(noise).all()
    # brick-like: mortar lines reach the border, so the border is not a plain background
    bricks = np.full((96, 96, 3), (150, 70, 50), np.uint8)
    bricks[::12] = 220
    bricks[:, ::24] = 220
    assert estimate_foreground(bricks).all()


def test_uniform_image_gives_an_all_true_foreground():
    flat = np.full((64, 64, 3), 90, np.uint8)
    assert estimate_foreground(flat).all()


def test_tiny_object_below_min_fraction_counts_as_texture():
    image = np.zeros((100, 100, 3), np.uint8)
    image[40:43, 40:43] = 200  # 9 of 10000 pixels
    assert estimate_foreground(image, min_fraction=0.05).all()


@pytest.mark.parametrize("tolerance", [-1, 256])
def test_tolerance_is_validated(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        estimate_foreground(np.zeros((8, 8, 3), np.uint8), tolerance=tolerance)


def test_bad_image_arrays_are_rejected():
    with pytest.raises(TypeError, match="uint8"):
        estimate_foreground(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        estimate_foreground(np.zeros((8, 8, 4), np.uint8))


# ------------------------------------------------------------------------------------------------ placing


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 12), st.integers(2, 12))
def test_placed_shape_is_a_translate_inside_the_foreground(seed, sh, sw):
    rng = np.random.default_rng(seed)
    foreground = np.zeros((64, 80), bool)
    foreground[10:50, 20:70] = True
    foreground[25:35, 40:50] = False  # a hole the shape must avoid
    shape = np.zeros((40, 40), bool)
    shape[5 : 5 + sh, 7 : 7 + sw] = rng.random((sh, sw)) < 0.7
    shape[5, 7] = shape[4 + sh, 6 + sw] = True  # fix the bounding box
    placed = place_mask(shape, foreground, rng)
    assert placed.shape == foreground.shape and placed.dtype == np.bool_
    assert not (placed & ~foreground).any()
    # the placed mask is the same crop, moved
    ys, xs = np.nonzero(placed)
    y0, x0 = ys.min(), xs.min()
    np.testing.assert_array_equal(placed[y0 : y0 + sh, x0 : x0 + sw], shape[5 : 5 + sh, 7 : 7 + sw])
    assert placed.sum() == shape.sum()


def test_placement_positions_vary_and_are_deterministic():
    foreground = np.ones((50, 50), bool)
    shape = np.zeros((50, 50), bool)
    shape[0:5, 0:5] = True
    first = [place_mask(shape, foreground, np.random.default_rng(s)) for s in range(10)]
    again = [place_mask(shape, foreground, np.random.default_rng(s)) for s in range(10)]
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    assert len({m.tobytes() for m in first}) > 5


def test_place_mask_fails_clearly_when_nothing_fits():
    foreground = np.zeros((40, 40), bool)
    foreground[::2] = True  # stripes one pixel high: a 3x3 square never fits
    shape = np.zeros((10, 10), bool)
    shape[2:5, 2:5] = True
    with pytest.raises(ValueError, match=r"could not place a 3x3 px shape.*after 20 tries"):
        place_mask(shape, foreground, np.random.default_rng(0), max_tries=20)


def test_place_mask_rejects_shapes_larger_than_the_foreground():
    foreground = np.zeros((40, 40), bool)
    foreground[10:20, 10:20] = True
    shape = np.ones((15, 3), bool)
    with pytest.raises(ValueError, match="larger than the foreground"):
        place_mask(shape, foreground, np.random.default_rng(0))


def test_place_mask_rejects_empty_inputs():
    with pytest.raises(ValueError, match="empty"):
        place_mask(np.zeros((5, 5), bool), np.ones((5, 5), bool), np.random.default_rng(0))
    with pytest.raises(ValueError, match="foreground is empty"):
        place_mask(np.ones((2, 2), bool), np.zeros((5, 5), bool), np.random.default_rng(0))


@pytest.mark.parametrize("name", ["ellipse", "scratch", "blob", "star"])
def test_generate_placed_mask_lands_on_the_object(name):
    image, disc = _object_on_background()
    foreground = estimate_foreground(image)
    for seed in range(5):
        mask = generate_placed_mask(name, disc.shape, foreground, np.random.default_rng(seed))
        assert mask.any() and not (mask & ~foreground).any()
    a = generate_placed_mask(name, disc.shape, foreground, np.random.default_rng(3))
    b = generate_placed_mask(name, disc.shape, foreground, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_generate_placed_mask_checks_size_and_reports_failure():
    foreground = np.zeros((32, 32), bool)
    foreground[0, :] = True
    with pytest.raises(ValueError, match="differs"):
        generate_placed_mask("ellipse", (32, 31), foreground, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no 'ellipse' shape fitted"):
        generate_placed_mask(
            "ellipse",
            (32, 32),
            foreground,
            np.random.default_rng(0),
            min_frac=0.5,
            max_frac=0.5,
            shape_tries=3,
        )
