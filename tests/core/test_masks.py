"""Mask operations against hand-computed values and brute-force references."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defect_core.errors import InputFileError
from defect_core.masks import (
    binarize,
    dilate,
    erode,
    latent_mask_from_size,
    mask_area_fraction,
    mask_bbox,
    resize_mask,
    to_latent_mask,
    validate_mask,
)

FAST = settings(max_examples=40, deadline=None)


@st.composite
def bool_masks(draw, min_side: int = 1, max_side: int = 24) -> np.ndarray:
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    density = draw(st.sampled_from([0.02, 0.2, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).random((h, w)) < density


# ------------------------------------------------------------------------------------------------ binarize


def test_binarize_float_uses_threshold_inclusive():
    arr = np.array([[0.0, 0.49, 0.5, 1.0]], dtype=np.float32)
    assert binarize(arr).tolist() == [[False, False, True, True]]
    assert binarize(arr, threshold=0.9).tolist() == [[False, False, False, True]]


def test_binarize_uint8_scales_threshold_by_255():
    arr = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    # 0.5 * 255 = 127.5: 127 is below, 128 is above (the same cut as load_mask's default 128)
    assert binarize(arr).tolist() == [[False, False, True, True]]
    # 0.2 * 255 = 51
    assert binarize(np.array([50, 51, 52], dtype=np.uint8), threshold=0.2).tolist() == [False, True, True]


def test_binarize_bool_is_a_copy_and_nan_is_false():
    mask = np.array([True, False])
    out = binarize(mask)
    out[0] = False
    assert mask[0]
    assert binarize(np.array([np.nan, 1.0])).tolist() == [False, True]


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_binarize_rejects_threshold_outside_unit_interval(threshold):
    with pytest.raises(ValueError, match="threshold"):
        binarize(np.zeros(3), threshold=threshold)


# --------------------------------------------------------------------------------------------- resize_mask


def test_resize_mask_upscale_by_two_repeats_pixels():
    mask = np.random.default_rng(0).random((5, 7)) < 0.5
    out = resize_mask(mask, (14, 10))  # (width, height)
    assert out.dtype == np.bool_ and out.shape == (10, 14)
    np.testing.assert_array_equal(out, np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1))


def test_resize_mask_downscale_by_two_takes_odd_pixels():
    # PIL nearest samples source index floor((i + 0.5) * 2) = 2 i + 1
    mask = np.random.default_rng(1).random((8, 6)) < 0.5
    np.testing.assert_array_equal(resize_mask(mask, (3, 4)), mask[1::2, 1::2])


def test_resize_mask_rejects_bad_size():
    with pytest.raises(ValueError, match="width, height"):
        resize_mask(np.ones((4, 4), bool), (0, 4))


# --------------------------------------------------------------------------------------------- latent mask


def _brute_latent(mask: np.ndarray, f: int) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros((h // f, w // f), bool)
    for i in range(h // f):
        for j in range(w // f):
            out[i, j] = any(mask[y, x] for y in range(i * f, i * f + f) for x in range(j * f, j * f + f))
    return out


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**32 - 1))
def test_to_latent_mask_matches_brute_force(hc, wc, factor, seed):
    mask = np.random.default_rng(seed).random((hc * factor, wc * factor)) < 0.05
    np.testing.assert_array_equal(to_latent_mask(mask, factor), _brute_latent(mask, factor))


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_to_latent_mask_keeps_a_single_pixel(hc, wc, data):
    factor = 8
    y = data.draw(st.integers(0, hc * factor - 1))
    x = data.draw(st.integers(0, wc * factor - 1))
    mask = np.zeros((hc * factor, wc * factor), bool)
    mask[y, x] = True
    latent = to_latent_mask(mask, factor)
    assert latent.shape == (hc, wc)
    assert latent.sum() == 1 and latent[y // factor, x // factor]


def test_to_latent_mask_names_the_shape_when_not_divisible():
    with pytest.raises(ValueError, match=r"\(20, 16\)"):
        to_latent_mask(np.zeros((20, 16), bool), 8)


def _brute_latent_from_size(mask: np.ndarray, lh: int, lw: int) -> np.ndarray:
    # a cell and a pixel overlap when their real intervals intersect with positive length
    h, w = mask.shape
    out = np.zeros((lh, lw), bool)
    for i in range(lh):
        for j in range(lw):
            ys = [y for y in range(h) if y < Fraction((i + 1) * h, lh) and Fraction(i * h, lh) < y + 1]
            xs = [x for x in range(w) if x < Fraction((j + 1) * w, lw) and Fraction(j * w, lw) < x + 1]
            out[i, j] = bool(mask[np.ix_(ys, xs)].any())
    return out


@FAST
@given(bool_masks(max_side=20), st.integers(1, 12), st.integers(1, 12))
def test_latent_mask_from_size_matches_overlap_reference(mask, lh, lw):
    np.testing.assert_array_equal(
        latent_mask_from_size(mask, (lh, lw)), _brute_latent_from_size(mask, lh, lw)
    )


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([2, 4, 8]), st.integers(0, 2**32 - 1))
def test_latent_mask_from_size_equals_max_pool_when_divisible(hc, wc, factor, seed):
    mask = np.random.default_rng(seed).random((hc * factor, wc * factor)) < 0.05
    np.testing.assert_array_equal(latent_mask_from_size(mask, (hc, wc)), to_latent_mask(mask, factor))


def test_latent_mask_from_size_marks_both_cells_of_a_straddling_pixel():
    # 3 pixels onto 2 cells: cell 0 spans [0, 1.5), cell 1 spans [1.5, 3); pixel 1 lies in both
    mask = np.zeros((1, 3), bool)
    mask[0, 1] = True
    assert latent_mask_from_size(mask, (1, 2)).tolist() == [[True, True]]
    mask = np.zeros((1, 3), bool)
    mask[0, 2] = True
    assert latent_mask_from_size(mask, (1, 2)).tolist() == [[False, True]]


# --------------------------------------------------------------------------------------- dilate and erode


def _brute_window(mask: np.ndarray, r: int, reduce) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros_like(mask)
    for y in range(h):
        for x in range(w):
            out[y, x] = reduce(mask[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1])
    return out


@FAST
@given(bool_masks(), st.integers(0, 5))
def test_dilate_matches_brute_force(mask, radius):
    np.testing.assert_array_equal(dilate(mask, radius), _brute_window(mask, radius, np.any))


@FAST
@given(bool_masks(), st.integers(0, 5))
def test_erode_matches_brute_force(mask, radius):
    np.testing.assert_array_equal(erode(mask, radius), _brute_window(mask, radius, np.all))


def test_radius_zero_is_identity_and_a_copy():
    mask = np.random.default_rng(3).random((6, 5)) < 0.5
    for op in (dilate, erode):
        out = op(mask, 0)
        np.testing.assert_array_equal(out, mask)
        assert out is not mask


def test_dilate_single_pixel_gives_a_square():
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    out = dilate(mask, 2)
    assert out.sum() == 25 and out[2:7, 2:7].all()


@pytest.mark.parametrize("op", [dilate, erode])
def test_negative_radius_is_rejected(op):
    with pytest.raises(ValueError, match="radius"):
        op(np.zeros((3, 3), bool), -1)


def test_non_bool_mask_is_rejected():
    with pytest.raises(TypeError, match="bool"):
        dilate(np.zeros((3, 3), np.uint8), 1)


# ------------------------------------------------------------------------------------------ area and bbox


def test_area_fraction_by_hand():
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:4] = True  # 6 of 20 pixels
    assert mask_area_fraction(mask) == pytest.approx(0.3)


@FAST
@given(bool_masks())
def test_mask_bbox_is_the_tightest_box(mask):
    if not mask.any():
        with pytest.raises(ValueError, match="empty"):
            mask_bbox(mask)
        return
    ys, xs = np.nonzero(mask)
    assert mask_bbox(mask) == (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)


def test_mask_bbox_by_hand():
    mask = np.zeros((10, 12), bool)
    mask[2, 3] = mask[6, 9] = True
    assert mask_bbox(mask) == (2, 3, 7, 10)


# -------------------------------------------------------------------------------------------- validate_mask


def test_validate_mask_accepts_a_good_mask():
    mask = np.zeros((4, 6), bool)
    mask[1, 2] = True
    assert validate_mask(mask, (6, 4)) is mask


@pytest.mark.parametrize(
    ("mask", "size", "problem"),
    [
        (np.zeros((4, 6), bool), (6, 4), "empty"),
        (np.ones((4, 6), bool), (6, 4), "whole image"),
        (np.eye(4, 6, dtype=bool), (4, 6), "6x4"),
        (np.zeros((4, 6, 3), bool), (6, 4), "single-channel"),
    ],
)
def test_validate_mask_names_file_and_problem(tmp_path, mask, size, problem):
    path = tmp_path / "ground_truth" / "000_mask.png"
    with pytest.raises(InputFileError, match=problem) as info:
        validate_mask(mask, size, path=path)
    assert info.value.path == path
    assert str(path) in str(info.value)


def test_validate_mask_without_path_still_explains():
    with pytest.raises(InputFileError, match="<mask>: mask is empty"):
        validate_mask(np.zeros((2, 2), bool), (2, 2))
