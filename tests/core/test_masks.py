"""Mask operations against hand-computed values and brute-force references."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from defect_core.errors import InputFileError
from defect_core.masks import (
    binarize,
    dilate,
    erode,
    mask_area_fraction,
    mask_bbox,
    resize_mask,
    resize_mask_covering,
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


# ------------------------------------------------------------------------------------ resize_mask_covering


def _brute_latent(mask: np.ndarray, f: int) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros((h // f, w // f), bool)
    for i in range(h // f):
        for j in range(w // f):
            out[i, j] = any(mask[y, x] for y in range(i * f, i * f + f) for x in range(j * f, j * f + f))
    return out


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**32 - 1))
def test_covering_resize_by_an_integer_factor_is_the_block_max_pool(hc, wc, factor, seed):
    mask = np.random.default_rng(seed).random((hc * factor, wc * factor)) < 0.05
    np.testing.assert_array_equal(resize_mask_covering(mask, (wc, hc)), _brute_latent(mask, factor))


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_covering_resize_keeps_a_single_pixel(hc, wc, data):
    factor = 8
    y = data.draw(st.integers(0, hc * factor - 1))
    x = data.draw(st.integers(0, wc * factor - 1))
    mask = np.zeros((hc * factor, wc * factor), bool)
    mask[y, x] = True
    latent = resize_mask_covering(mask, (wc, hc))
    assert latent.shape == (hc, wc)
    assert latent.sum() == 1 and latent[y // factor, x // factor]


def _source_pixels(n: int, m: int, i: int) -> list[int]:
    # shrinking: the pixels whose real interval [p, p + 1) meets cell i's [i n / m, (i + 1) n / m) with
    # positive length; growing: the pixel PIL's nearest neighbour samples for cell i (the reference library)
    if m <= n:
        return [p for p in range(n) if p < Fraction((i + 1) * n, m) and Fraction(i * n, m) < p + 1]
    ramp = Image.fromarray(np.arange(n, dtype=np.int32)[None, :])
    return [int(np.asarray(ramp.resize((m, 1), Image.Resampling.NEAREST))[0, i])]


def _brute_resize(mask: np.ndarray, lh: int, lw: int) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros((lh, lw), bool)
    for i in range(lh):
        for j in range(lw):
            out[i, j] = bool(mask[np.ix_(_source_pixels(h, lh, i), _source_pixels(w, lw, j))].any())
    return out


@FAST
@given(bool_masks(max_side=20), st.integers(1, 30), st.integers(1, 30))
def test_covering_resize_matches_the_cell_reference(mask, lh, lw):
    # lh, lw up to 30 > 20: growing and mixed (one axis up, one down) are covered too
    np.testing.assert_array_equal(resize_mask_covering(mask, (lw, lh)), _brute_resize(mask, lh, lw))


def test_covering_resize_marks_both_cells_of_a_straddling_pixel():
    # 3 pixels onto 2 cells: cell 0 spans [0, 1.5), cell 1 spans [1.5, 3); pixel 1 lies in both
    mask = np.zeros((1, 3), bool)
    mask[0, 1] = True
    assert resize_mask_covering(mask, (2, 1)).tolist() == [[True, True]]
    mask = np.zeros((1, 3), bool)
    mask[0, 2] = True
    assert resize_mask_covering(mask, (2, 1)).tolist() == [[False, True]]


def test_covering_resize_onto_a_non_integer_grid_by_hand():
    # 64 x 64 px onto 8 rows x 23 columns: rows are 8 px each; column j spans [64 j / 23, 64 (j + 1) / 23),
    # i.e. 2.78 px: column 2 = [5.57, 8.35), 3 = [8.35, 11.13), 4 = [11.13, 13.91), 22 = [61.22, 64)
    mask = np.zeros((64, 64), bool)
    mask[37, 8] = True  # row cell 37 // 8 = 4; pixel [8, 9) overlaps columns 2 and 3
    mask[20, 10] = True  # row 2; [10, 11) lies inside column 3 only
    mask[21, 11] = True  # row 2; [11, 12) overlaps columns 3 and 4
    mask[0, 0] = True  # row 0, column 0 = [0, 2.78)
    mask[63, 63] = True  # row 7, column 22
    out = resize_mask_covering(mask, (23, 8))
    assert out.shape == (8, 23)
    assert sorted(zip(*np.nonzero(out), strict=True)) == [(0, 0), (2, 3), (2, 4), (4, 2), (4, 3), (7, 22)]


def test_covering_resize_grows_by_nearest_neighbour_and_keeps_a_scratch_of_a_shrunk_axis():
    # 3 px onto 4 cells of 0.75 px: centres 0.375, 1.125, 1.875, 2.625 lie in pixels 0, 1, 1, 2
    assert resize_mask_covering(np.array([[True, False, False]]), (4, 1)).tolist() == [
        [True, False, False, False]
    ]
    assert resize_mask_covering(np.array([[False, True, False]]), (4, 1)).tolist() == [
        [False, True, True, False]
    ]
    # an integer factor repeats each pixel
    mask = np.random.default_rng(2).random((5, 7)) < 0.5
    np.testing.assert_array_equal(
        resize_mask_covering(mask, (21, 10)), np.repeat(np.repeat(mask, 2, 0), 3, 1)
    )
    # growing on both axes is exactly PIL's nearest neighbour (resize_mask), ties on pixel edges included
    for size in [(9, 8), (11, 13), (12, 7), (40, 33)]:
        np.testing.assert_array_equal(resize_mask_covering(mask, size), resize_mask(mask, size))
    # 16 x 3 onto 4 x 4: rows shrink 4 : 1, so row 5's one-pixel scratch marks row cell 1; columns grow.
    # Nearest neighbour on both axes samples rows 2, 6, 10, 14 and loses it.
    scratch = np.zeros((16, 3), bool)
    scratch[5] = True
    assert resize_mask_covering(scratch, (4, 4)).tolist() == [
        [False] * 4,
        [True] * 4,
        [False] * 4,
        [False] * 4,
    ]
    assert not resize_mask(scratch, (4, 4)).any()


def test_covering_resize_rejects_bad_input():
    with pytest.raises(ValueError, match="width, height"):
        resize_mask_covering(np.ones((4, 4), bool), (4, 0))
    with pytest.raises(TypeError, match="bool"):
        resize_mask_covering(np.ones((4, 4), np.uint8), (2, 2))


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
