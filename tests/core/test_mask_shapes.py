"""Seeded mask generators: determinism, binary non-empty output, DefectFill's M_rand bounds, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defect_core.masks import mask_bbox
from defect_core.masks import shapes as mask_shapes
from defect_core.masks.shapes import (
    available_shapes,
    boxes_to_mask,
    create_mask,
    random_box_list,
    random_boxes,
    register_shape,
)

FAST = settings(max_examples=25, deadline=None)
NAMES = ["blob", "boxes", "ellipse", "polygon", "rectangle", "scratch", "star"]

sizes = st.tuples(st.integers(1, 160), st.integers(1, 160))
seeds = st.integers(0, 2**32 - 1)


def test_available_shapes_lists_the_registered_names():
    assert available_shapes() == NAMES


@FAST
@given(st.sampled_from(NAMES), sizes, seeds)
def test_same_seed_gives_same_mask(name, size, seed):
    a = create_mask(name, size, np.random.default_rng(seed))
    b = create_mask(name, size, np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)


@FAST
@given(st.sampled_from(NAMES), sizes, seeds)
def test_output_is_bool_of_the_size_and_never_empty(name, size, seed):
    mask = create_mask(name, size, np.random.default_rng(seed))
    assert mask.dtype == np.bool_
    assert mask.shape == size
    assert mask.any()


@pytest.mark.parametrize("name", NAMES)
def test_different_seeds_give_different_masks(name):
    masks = [create_mask(name, (96, 96), np.random.default_rng(s)).tobytes() for s in range(5)]
    assert len(set(masks)) == 5


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


@FAST
@given(st.integers(8, 600), st.integers(8, 600), seeds)
def test_random_boxes_respect_count_and_side_bounds(height, width, seed):
    boxes = random_box_list((height, width), np.random.default_rng(seed))
    assert len(boxes) == 30
    for y0, x0, y1, x1 in boxes:
        assert 0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width
        # sides are 3-25 % of the image side, rounded to whole pixels, at least one pixel
        assert max(1, _half_up(0.03 * height)) <= y1 - y0 <= max(1, _half_up(0.25 * height))
        assert max(1, _half_up(0.03 * width)) <= x1 - x0 <= max(1, _half_up(0.25 * width))


@FAST
@given(st.integers(4, 200), st.integers(4, 200), seeds)
def test_random_boxes_mask_is_the_union_of_its_boxes(height, width, seed):
    boxes = random_box_list((height, width), np.random.default_rng(seed))
    expected = np.zeros((height, width), bool)
    for y0, x0, y1, x1 in boxes:
        for y in range(y0, y1):
            for x in range(x0, x1):
                expected[y, x] = True
    np.testing.assert_array_equal(random_boxes((height, width), np.random.default_rng(seed)), expected)
    np.testing.assert_array_equal(boxes_to_mask(boxes, (height, width)), expected)


def test_random_boxes_cover_the_range_of_sizes():
    # over many boxes, the drawn sides should reach close to both ends of [3 %, 25 %] of 400 px: [12, 100]
    rng = np.random.default_rng(7)
    sides = [y1 - y0 for _ in range(20) for y0, _, y1, _ in random_box_list((400, 400), rng)]
    assert min(sides) <= 16 and max(sides) >= 96


@pytest.mark.parametrize(
    ("name", "params", "long_side"),
    [
        ("ellipse", {"min_frac": 0.2, "max_frac": 0.2, "rotate": False}, 20),
        ("rectangle", {"min_frac": 0.3, "max_frac": 0.3, "rotate": False}, 30),
        ("star", {"min_frac": 0.4, "max_frac": 0.4}, 40),
    ],
)
def test_shape_extent_follows_the_fraction_of_the_short_side(name, params, long_side):
    # on a 100 x 300 image the short side is 100 px; bounding boxes are within a pixel or two of the size
    for seed in range(5):
        y0, x0, y1, x1 = mask_bbox(create_mask(name, (100, 300), np.random.default_rng(seed), **params))
        assert max(y1 - y0, x1 - x0) <= long_side + 2
        if name != "star":
            assert abs((y1 - y0) - long_side) <= 2 and abs((x1 - x0) - long_side) <= 2


def test_shapes_that_fit_are_whole_not_clipped_by_the_border():
    # large shapes on a small canvas: a uniform centre would clip most of them, a fitted position none
    for seed in range(30):
        ellipse = create_mask("ellipse", (64, 64), np.random.default_rng(seed), min_frac=0.6, max_frac=0.6)
        assert abs(ellipse.sum() - math.pi * 19.2**2) < 0.06 * math.pi * 19.2**2
        line = create_mask(
            "scratch",
            (64, 64),
            np.random.default_rng(seed),
            min_frac=0.8,
            max_frac=0.8,
            min_width=1,
            max_width=1,
        )
        # a 1-px polyline of length 51.2 covers at least length / sqrt(2) pixels
        # (one per step along its long axis)
        assert line.sum() >= 51.2 / math.sqrt(2) - 4


def test_scratch_width_is_in_pixels():
    for seed in range(5):
        thin = create_mask("scratch", (200, 200), np.random.default_rng(seed), min_width=1, max_width=1)
        thick = create_mask("scratch", (200, 200), np.random.default_rng(seed), min_width=5, max_width=5)
        assert thick.sum() > 3 * thin.sum()
        # a 1-px line touches at most about 1.5 px per unit of length (diagonal steps); length <= 0.6 * 200
        assert thin.sum() <= 1.5 * 0.6 * 200 + 10


def test_unknown_shape_lists_available_ones():
    with pytest.raises(ValueError, match="unknown mask shape 'hexagon'; available: blob, boxes"):
        create_mask("hexagon", (8, 8), np.random.default_rng(0))


def test_register_shape_rejects_duplicates_and_registers_new(monkeypatch):
    monkeypatch.setattr(mask_shapes, "_REGISTRY", dict(mask_shapes._REGISTRY))
    with pytest.raises(ValueError, match="already registered"):
        register_shape("ellipse")(mask_shapes.ellipse)

    @register_shape("dot")
    def dot(size, rng):
        mask = np.zeros(size, bool)
        mask[int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))] = True
        return mask

    assert "dot" in available_shapes()
    assert create_mask("dot", (5, 5), np.random.default_rng(0)).sum() == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_frac": 0.3, "max_frac": 0.2}, "min_frac"),
        ({"min_frac": 0.0}, "min_frac"),
        ({"count": 0}, "count"),
    ],
)
def test_random_boxes_validate_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_box_list((32, 32), np.random.default_rng(0), **kwargs)


def test_bad_size_and_rng_are_rejected():
    with pytest.raises(ValueError, match="height, width"):
        create_mask("ellipse", (0, 10), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        create_mask("ellipse", (10, 10), np.random.RandomState(0))
