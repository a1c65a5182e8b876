"""Where the region comes from: editor layers, clicked corners, generated shapes, real dataset masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from defect_core.errors import InputFileError
from defect_sample.review.regions import REGION_MIN_ALPHA, mask_from_layers, region_layer
from defect_sample.review.views import outline, outlined, zoomed


def test_editor_layers_union_above_the_alpha_threshold_round_trips_a_region():
    a = np.zeros((40, 50, 4), dtype=np.uint8)
    a[5:10, 5:20, 3] = REGION_MIN_ALPHA  # counts
    a[20:25, 5:20, 3] = REGION_MIN_ALPHA - 1  # a faint anti-aliased edge: does not
    b = np.zeros((40, 50, 4), dtype=np.uint8)
    b[30:35, 40:45] = (255, 0, 0, 255)
    mask = mask_from_layers([a, None, b], (50, 40))
    assert mask.sum() == 5 * 15 + 5 * 5 and mask[7, 10] and not mask[22, 10] and mask[32, 42]
    assert np.array_equal(mask_from_layers([region_layer(mask)], (50, 40)), mask)  # what the page loads back
    with pytest.raises(InputFileError, match="mask is empty"):
        mask_from_layers([np.zeros((40, 50, 4), np.uint8)], (50, 40))


def test_two_corners_make_a_rectangle_and_more_a_polygon(make_session):
    session = make_session()
    triangle = session.region_from_points("000.png", [(10, 10), (50, 10), (10, 50)])
    ys, xs = np.nonzero(triangle)
    # right triangle with legs of 40 px: every pixel has x + y <= 60 (+ the outline), area about 40 * 40 / 2
    assert (xs + ys).max() <= 61 and xs.min() == 10 and ys.min() == 10
    assert abs(int(triangle.sum()) - 800) < 80 and triangle[20, 20] and not triangle[45, 45]
    rectangle = session.region_from_points("000.png", [(40, 30), (20, 10)])  # any two opposite corners
    assert rectangle.sum() == 21 * 21 and rectangle[10:31, 20:41].all()


def test_generated_shapes_land_on_the_object_and_repeat_with_the_seed(make_session):
    session = make_session()
    for kind in ("ellipse", "scratch", "star"):
        mask = session.region_from_shape("000.png", kind, 3)
        assert mask.any() and not mask[:6].any() and not mask[:, :6].any()  # never on the dark frame
        assert not mask[-6:].any() and not mask[:, -6:].any()
        assert np.array_equal(mask, session.region_from_shape("000.png", kind, 3))
    with pytest.raises(ValueError, match="unknown mask shape"):
        session.region_from_shape("000.png", "hexagon", 0)


def test_real_masks_of_a_dataset_are_offered_and_resized_to_the_picked_image(make_session, tmp_path):
    root = tmp_path / "mvtec"
    (root / "tile" / "train" / "good").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(root / "tile" / "train" / "good" / "000.png")
    for defect in ("crack", "hole"):
        (root / "tile" / "test" / defect).mkdir(parents=True)
        (root / "tile" / "ground_truth" / defect).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(root / "tile" / "test" / defect / "000.png")
        mask = np.zeros((32, 32), dtype=np.uint8)
        mask[4:8, 10:20] = 255  # a 10 x 4 bar on a 32 px picture
        Image.fromarray(mask).save(root / "tile" / "ground_truth" / defect / "000_mask.png")
    session = make_session(dataset="mvtec", dataset_root=root, object_name="tile")
    assert session.dataset_mask_names() == ["crack/000_mask.png", "hole/000_mask.png"]
    region = session.region_from_dataset("000.png", "hole/000_mask.png")
    expected = np.zeros((64, 64), dtype=bool)
    expected[8:16, 20:40] = True  # the same bar at twice the size
    assert np.array_equal(region, expected)
    with pytest.raises(KeyError, match="no real mask"):
        session.region_from_dataset("000.png", "crack/../../../etc/passwd")


def test_a_built_in_dataset_needs_no_root_and_its_cached_masks_may_be_read(make_session):
    from defect_core.builtin.datasets import builtin_dataset_root
    from defect_core.images import load_mask

    session = make_session(dataset="demo", object_name="brick")
    assert "hole/000_mask.png" in session.dataset_mask_names()
    region = session.region_from_dataset("000.png", "hole/000_mask.png")  # inside the allowed folders
    full = load_mask(builtin_dataset_root("demo") / "brick" / "ground_truth" / "hole" / "000_mask.png")
    assert full.shape == (128, 128)
    # 128 px onto the 64 px picked image: each pixel of the region is defect when any of its 2 x 2 is
    assert np.array_equal(region, full.reshape(64, 2, 64, 2).any(axis=(1, 3)))


def test_views_outline_the_region_outside_its_pixels_and_zoom_on_it():
    image = Image.fromarray(np.full((16, 16, 3), 100, dtype=np.uint8))
    mask = np.zeros((16, 16), dtype=bool)
    mask[6:9, 6:9] = True
    ring = outline(mask)
    assert ring.sum() == 5 * 5 - 3 * 3 and ring[5:10, 5:10].sum() == 16  # the square ring around the 3 x 3
    assert not (ring & mask).any() and ring[5, 7] and ring[7, 9]
    big = np.asarray(outlined(image, mask, side=64))  # enlarged 4 x, nearest neighbour
    assert big.shape == (64, 64, 3)
    assert (big[7 * 4 + 1, 7 * 4 + 1] == 100).all()  # generated pixels are never painted over
    assert (big[5 * 4 + 1, 7 * 4 + 1] == (255, 220, 0)).all()
    crop = zoomed(image, mask, side=64)
    assert crop.size[0] == crop.size[1] and crop.size[0] >= 7 * 8  # the 3 px region with margins, enlarged
