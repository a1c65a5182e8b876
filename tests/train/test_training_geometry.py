"""Training sees the sampler's geometry: a defect keeps its aspect ratio and scale from the real pair, through
the trainer's crops, to the region defect-sample fills.

Fixture: 64 × 176 (width × height) images, the shape of a KSDD2 strip, with a tall ellipse (semi-axes 10 × 40
px), a circle (radius 14 px) and a wide ellipse (24 × 6 px); training resolution 128. The working size is
then 48 × 128: x scaled by 0.750, y by 0.727 (the sides are rounded to multiples of 8, which the sampler
does too), so an aspect read in those pixels is the real one times 0.727 / 0.750 = 0.970.

What is measured: a defect's aspect = sqrt(var_y / var_x) of its pixels, weighted by how much brighter
than the background they are (the image, where bicubic resizing keeps the moments) or unweighted (the mask).
The tolerances are stated where they are asserted. A random-weight model (builtin:tiny) learns no shape, so
the check on generated images is geometric: the region the sampler fills is the real mask at the same scale
on both axes as in training.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from defect_core.defect_example import DefectExample
from defect_sample.job_inputs import load_item_pair
from defect_sample.job_plan import WorkItem
from defect_sample.working_size import working_size
from defect_train.attention import AttentionStore
from defect_train.data import DefectPairs

WIDTH, HEIGHT, RESOLUTION = 64, 176, 128
BACKGROUND, DEFECT = 90, 200
#: (centre y, centre x, semi-axis y, semi-axis x) in pixels of the 64 × 176 image
SHAPES = {"tall": (88, 32, 40, 10), "round": (60, 30, 14, 14), "wide": (120, 32, 6, 24)}


def _ellipse(cy: float, cx: float, ay: float, ax: float) -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return ((y + 0.5 - cy) / ay) ** 2 + ((x + 0.5 - cx) / ax) ** 2 <= 1


def _moments(weights: np.ndarray) -> tuple[float, float]:
    """(std_y, std_x) of the pixel coordinates weighted by ``weights`` (H, W)."""
    y, x = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    total = weights.sum()
    my, mx = (weights * y).sum() / total, (weights * x).sum() / total
    return (
        float(np.sqrt((weights * (y - my) ** 2).sum() / total)),
        float(np.sqrt((weights * (x - mx) ** 2).sum() / total)),
    )


def image_spread(image: np.ndarray) -> tuple[float, float]:
    """(std_y, std_x) of the defect in a grey (H, W) image: weights = brightness above the background."""
    return _moments(np.asarray(image, dtype=np.float64) - BACKGROUND)


def mask_aspect(mask: np.ndarray) -> float:
    std_y, std_x = _moments(np.asarray(mask, dtype=np.float64))
    return std_y / std_x


def _batch_grey(batch_images: torch.Tensor) -> np.ndarray:
    return ((batch_images[0].mean(0) + 1.0) * 127.5).numpy()


@pytest.fixture(scope="module")
def strips(tmp_path_factory) -> dict[str, DefectExample]:
    """One defect image + mask per shape, and a defect-free strip, in a plain folder dataset."""
    root = tmp_path_factory.mktemp("strips")
    for sub in ("images", "masks", "good"):
        (root / sub).mkdir()
    examples = {}
    for name, params in SHAPES.items():
        mask = _ellipse(*params)
        image = np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)
        image[mask] = DEFECT
        Image.fromarray(image).save(root / "images" / f"{name}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{name}.png")
        examples[name] = DefectExample(
            root / "images" / f"{name}.png", root / "masks" / f"{name}.png", "strip", "dent"
        )
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)).save(root / "good" / "good.png")
    return examples


def test_fixture_working_size() -> None:
    # the arithmetic of the module docstring, so that the tolerances below read right
    assert working_size((WIDTH, HEIGHT), RESOLUTION) == (48, 128)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_training_crops_keep_the_real_aspect_and_scale(strips, name) -> None:
    pairs = DefectPairs([strips[name]], RESOLUTION, 1)
    assert pairs.canvas == (128, 48)  # (H, W): the working size, not a 128 x 128 square
    real_y, real_x = image_spread(np.asarray(Image.open(strips[name].image).convert("L")))
    real_aspect = real_y / real_x
    scale_y, scale_x = 128 / HEIGHT, 48 / WIDTH
    rng = np.random.default_rng(0)
    aspects, mask_aspects = [], []
    for _ in range(40):
        batch = pairs.draw(rng)
        assert batch.images.shape == (1, 3, 128, 48)
        std_y, std_x = image_spread(_batch_grey(batch.images))
        # scale: each axis by the sampler's factor times the augmentation's f in [1, 1.125], within 2 %
        assert 0.98 * scale_y <= std_y / real_y <= 1.125 * 1.02 * scale_y
        assert 0.98 * scale_x <= std_x / real_x <= 1.125 * 1.02 * scale_x
        aspects.append(std_y / std_x)
        mask = batch.masks[0, 0].numpy() > 0.5
        assert mask.sum() > 0
        mask_aspects.append(mask_aspect(mask))
    aspects = np.array(aspects)
    # image: every crop within 2 % of the real aspect times the working size's rounding (0.970), and within
    # 5 % of the real aspect itself (squashing to a square would be off by 2.75x)
    expected = real_aspect * scale_y / scale_x
    assert np.all(np.abs(aspects / expected - 1) < 0.02), (expected, aspects.min(), aspects.max())
    assert np.all(np.abs(aspects / real_aspect - 1) < 0.05), (real_aspect, aspects.min(), aspects.max())
    # mask: a shrunk mask marks every pixel a defect pixel touches (as the sampler's does), which widens a
    # 9-px-high defect by up to a pixel, so its reference is the mask the sampler fills, not the real one;
    # pixel-quantised (a column more or less with the sub-pixel phase): every crop within 12 %, the mean of
    # 40 crops within 4 %
    mask_expected = mask_aspect(_sampler_view(strips[name])[1])
    mask_aspects = np.array(mask_aspects)
    assert np.all(np.abs(mask_aspects / mask_expected - 1) < 0.12), (mask_expected, mask_aspects)
    assert abs(mask_aspects.mean() / mask_expected - 1) < 0.04, (mask_expected, mask_aspects.mean())


def _sampler_view(example: DefectExample) -> tuple[Image.Image, np.ndarray]:
    """What defect-sample fills: the example's image as a normal image and its mask, at the working size."""
    item = WorkItem(
        index=0,
        item_id="x",
        group=0,
        defect_name="dent",
        normal=example.image,
        seed=0,
        mask_path=example.mask,
    )
    return load_item_pair(item, RESOLUTION, threshold=128)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_sampler_sees_the_defect_as_training_does(strips, name) -> None:
    """The sampler's resize of a real mask onto a normal image gives the aspect that the trainer's crops have."""
    image, mask = _sampler_view(strips[name])
    assert image.size == (48, 128)
    std_y, std_x = image_spread(np.asarray(image.convert("L")))
    pairs = DefectPairs([strips[name]], RESOLUTION, 1, min_resize=1.0, max_resize=1.0)
    batch = pairs.draw(np.random.default_rng(0))
    train_y, train_x = image_spread(_batch_grey(batch.images))
    # without the random resize the trainer's pixels are the sampler's pixels
    assert train_y == pytest.approx(std_y, rel=1e-3) and train_x == pytest.approx(std_x, rel=1e-3)
    np.testing.assert_array_equal(batch.masks[0, 0].numpy() > 0.5, mask)


def test_crops_keep_a_defect_longer_than_the_canvas(tmp_path) -> None:
    """A pair larger than the canvas (another working size in the same run) is cropped around its defect."""
    small = tmp_path / "small.png"
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)).save(small)
    small_mask = np.zeros((HEIGHT, WIDTH), bool)
    small_mask[80:90, 20:30] = True
    Image.fromarray(small_mask.astype(np.uint8) * 255).save(tmp_path / "small_mask.png")
    wide = tmp_path / "wide.png"  # 96 x 176: working size 72 x 128, cut to the 48-px-wide canvas
    Image.fromarray(np.full((HEIGHT, 96, 3), BACKGROUND, np.uint8)).save(wide)
    wide_mask = np.zeros((HEIGHT, 96), bool)
    wide_mask[100, 5:90] = True  # a scratch longer than the canvas is wide
    Image.fromarray(wide_mask.astype(np.uint8) * 255).save(tmp_path / "wide_mask.png")
    examples = [
        DefectExample(small, tmp_path / "small_mask.png", "strip", "dent"),
        DefectExample(wide, tmp_path / "wide_mask.png", "strip", "dent"),
    ]
    pairs = DefectPairs(examples, RESOLUTION, 2)
    assert pairs.canvas == (128, 48)
    rng = np.random.default_rng(3)
    for _ in range(20):
        batch = pairs.draw(rng)
        assert batch.images.shape == (2, 3, 128, 48)
        assert torch.all(batch.masks.flatten(1).sum(1) > 0)  # no crop without its defect


def test_draws_are_deterministic_given_the_seed(strips) -> None:
    pairs = DefectPairs(list(strips.values()), RESOLUTION, 2)
    a = [pairs.draw(np.random.default_rng(7)) for _ in range(2)]
    b = [pairs.draw(np.random.default_rng(7)) for _ in range(2)]
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.images, y.images) and torch.equal(x.masks, y.masks)


def test_attention_grids_of_a_non_square_latent() -> None:
    """SD2's decoder levels of a 512 × 184 image (latent 64 × 23) halve rounding up: 32 × 12, 16 × 6."""
    store = AttentionStore(latent_hw=(64, 23))
    assert store.spatial_shape(64 * 23) == (64, 23)
    assert store.spatial_shape(32 * 12) == (32, 12)
    assert store.spatial_shape(16 * 6) == (16, 6)
    assert AttentionStore(latent_hw=(64, 64)).spatial_shape(16 * 16) == (16, 16)


def test_non_square_training_and_generation_end_to_end(strips, fast_config, tmp_path) -> None:
    """builtin:tiny learns from the 64 × 176 strips at 128 px, then fills a held-out mask on a good strip:
    the filled region is the real mask at the working size, the one the trainer cropped from."""
    from defect_core.manifest import read_manifest
    from defect_sample import SampleConfig, run_generation
    from defect_train.trainer import train_concept

    root = strips["tall"].image.parent.parent
    config = replace(
        fast_config,
        dataset="folder",
        root=root,
        object_name="strip",
        defect_name="dent",
        split="all",
        resolution=RESOLUTION,
        steps=2,
        batch_size=2,
        checkpoint_every=0,
        preview_count=1,
        preview_steps=2,
    )
    concept = train_concept(config)
    preview = Image.open(config.output_dir / "preview.png")
    assert preview.size[0] > 0
    out = tmp_path / "generated"
    run_generation(
        SampleConfig(
            out=out,
            concept=(concept,),
            normals=root / "good",
            masks=root / "masks",
            count=3,
            candidates=1,
            select="none",
            steps=2,
            device="cpu",
        ),
        progress=False,
    )
    records = read_manifest(out / "manifest.jsonl")
    assert len(records) == 3
    for record in records:
        generated = Image.open(record.image)
        assert generated.size == (48, 128)
        filled = np.asarray(Image.open(record.mask)) > 127
        real = np.asarray(Image.open(record.mask_source)) > 127
        # the same aspect the trainer saw for this mask (its crops' mean is within 4 % of this)
        expected = mask_aspect(real) * (128 / HEIGHT) / (48 / WIDTH)
        assert mask_aspect(filled) == pytest.approx(expected, rel=0.12)
