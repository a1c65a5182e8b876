"""Regions (8-connected, per class) and their pixel-edge polygons, against scikit-image's labelling and
pycocotools' rasteriser: every polygon must give back exactly its region's pixels."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from export_cases import blob_case, hand_case
from skimage.measure import label as skimage_label

from defect_core.exports import find_regions, region_polygon
from defect_core.exports.contours import signed_area

# pycocotools 2.0.x decodes through numpy's old __array__ protocol: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def full_mask(region, shape) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    h, w = region.mask.shape
    out[region.top : region.top + h, region.left : region.left + w] = region.mask
    return out


def rasterise_with_pycocotools(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rles = coco_mask.frPyObjects([polygon.ravel().astype(float).tolist()], shape[0], shape[1])
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


def random_labels(rng: np.random.Generator) -> np.ndarray:
    h, w = (int(v) for v in rng.integers(1, 24, 2))
    fill = rng.uniform(0.2, 0.8)
    return ((rng.random((h, w)) < fill) * rng.integers(1, 4, (h, w))).astype(np.uint8)


def test_regions_are_the_8_connected_pieces_of_each_class() -> None:
    rng = np.random.default_rng(0)
    for _ in range(60):
        labels = random_labels(rng)
        regions = find_regions(labels)
        for k in range(1, 4):
            # scikit-image's labelling with connectivity 2 (8-neighbours) is the reference partition
            reference = skimage_label(labels == k, connectivity=2)
            ours = [full_mask(r, labels.shape) for r in regions if r.class_id == k]
            assert len(ours) == reference.max()
            for mask in ours:
                values = np.unique(reference[mask])
                assert len(values) == 1 and values[0] > 0
                assert np.array_equal(reference == values[0], mask)


def test_hand_case_regions_are_the_drawn_ones_in_a_fixed_order() -> None:
    case = hand_case()
    regions = find_regions(case.labels)
    assert len(regions) == len(case.regions) == 8
    found = sorted((r.class_id, full_mask(r, case.labels.shape).tobytes()) for r in regions)
    drawn = sorted((k, m.tobytes()) for k, m in case.regions)
    assert found == drawn
    # class, then raster order of the first pixel
    firsts = [(r.class_id, r.top, int(np.argmax(r.mask[0])) + r.left) for r in regions]
    assert firsts == sorted(firsts)


def test_region_area_and_bbox_follow_coco() -> None:
    one_pixel = np.zeros((5, 6), dtype=np.uint8)
    one_pixel[3, 4] = 2
    (region,) = find_regions(one_pixel)
    assert (region.class_id, region.area, region.bbox) == (2, 1, (4, 3, 1, 1))
    rles = coco_mask.encode(np.asfortranarray(one_pixel == 2))
    assert coco_mask.toBbox(rles).tolist() == [4.0, 3.0, 1.0, 1.0]


def test_polygons_give_back_their_regions_exactly_under_pycocotools() -> None:
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(60):
        labels = random_labels(rng)
        for region in find_regions(labels):
            polygon = region_polygon(region.mask, region.top, region.left)
            expected = full_mask(region, labels.shape)
            assert np.array_equal(rasterise_with_pycocotools(polygon, labels.shape), expected)
            assert signed_area(polygon) == region.area
            checked += 1
    assert checked > 1000  # random noise: many holes, corner contacts and one-pixel regions


def test_realistic_blobs_and_scratches_round_trip_exactly() -> None:
    labels = blob_case(256, seed=3)
    regions = find_regions(labels)
    assert len(regions) >= 6
    for region in regions:
        polygon = region_polygon(region.mask, region.top, region.left)
        assert np.array_equal(
            rasterise_with_pycocotools(polygon, labels.shape), full_mask(region, labels.shape)
        )


def test_polygon_keeps_only_the_corners() -> None:
    mask = np.ones((3, 5), dtype=bool)
    polygon = region_polygon(mask, top=2, left=1)
    # clockwise on screen from the top-left corner, one vertex per corner
    assert polygon.tolist() == [[1, 2], [6, 2], [6, 5], [1, 5]]


def test_pixels_touching_at_a_corner_make_one_polygon_through_that_corner() -> None:
    mask = np.array([[1, 0], [0, 1]], dtype=bool)
    polygon = region_polygon(mask)
    assert signed_area(polygon) == 2
    assert [tuple(p) for p in polygon.tolist()].count((1, 1)) == 2  # the shared corner, passed twice
    assert np.array_equal(rasterise_with_pycocotools(polygon, (2, 2)), mask)


def test_a_hole_is_cut_in_with_a_vertical_zero_width_cut() -> None:
    mask = np.ones((3, 3), dtype=bool)
    mask[1, 1] = False
    polygon = region_polygon(mask)
    assert signed_area(polygon) == 8
    assert np.array_equal(rasterise_with_pycocotools(polygon, (3, 3)), mask)
    # the hole's top-left corner (1, 1) is joined to the outer top edge at (1, 0), down and back up
    steps = [tuple(p) for p in polygon.tolist()]
    i = steps.index((1, 0))
    assert steps[i + 1] == (1, 1) and (1, 0) in steps[i + 2 :]


def test_outer_polygon_alone_would_fill_the_holes() -> None:
    # what the cuts are for: COCO's polygons are a union, so a hole given as a second polygon is lost
    case = hand_case()
    ring = next(r for r in find_regions(case.labels) if r.class_id == 1)
    outer = np.array([[2, 2], [9, 2], [9, 9], [2, 9]])
    filled = rasterise_with_pycocotools(outer, case.labels.shape)
    assert int((filled != full_mask(ring, case.labels.shape)).sum()) == 9  # the 3 x 3 hole


def test_bad_region_masks_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        region_polygon(np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="2 8-connected regions"):
        region_polygon(np.array([[1, 0, 1]], dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        find_regions(np.zeros(3, dtype=np.uint8))
    assert find_regions(np.zeros((4, 4), dtype=np.uint8)) == []
