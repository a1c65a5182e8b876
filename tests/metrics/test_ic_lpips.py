"""IC-LPIPS against a literal reference (one ``lpips.LPIPS`` call per pair) in both variants, on whole
images and on crops around the defect."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from defect_metrics import ICLPIPSConfig, ic_lpips, load_lpips
from defect_metrics.intra_cluster_lpips import crop_box


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return load_lpips("alex", random_backbone=True)


def _images(seed: int, count: int, size: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float()[None] / 127.5 - 1


def _reference(network, generated, training, max_members: int, average_over: str) -> tuple[float, list[int]]:
    """Literal definition: LPIPS forward on (generated, training) pairs, then on every unordered member pair."""
    clusters: list[list[int]] = [[] for _ in training]
    train = torch.cat([_tensor(t) for t in training])
    with torch.no_grad():
        for index, image in enumerate(generated):
            distances = network(_tensor(image).expand(len(training), -1, -1, -1), train).flatten()
            clusters[int(torch.argmin(distances))].append(index)
        values = []
        for members in clusters:
            members = members[:max_members]
            if not members:
                if average_over == "all":
                    values.append(0.0)
                continue
            pairs = list(itertools.combinations(members, 2))
            if not pairs:
                values.append(0.0)
                continue
            first = torch.cat([_tensor(generated[a]) for a, _ in pairs])
            second = torch.cat([_tensor(generated[b]) for _, b in pairs])
            values.append(float(network(first, second).mean()))
    return float(np.mean(values)), [len(c) for c in clusters]


@pytest.mark.parametrize(
    "config",
    [
        ICLPIPSConfig(image_size=32, max_members=3, batch_size=5),
        ICLPIPSConfig.dfmgan(image_size=32, max_members=4),
    ],
)
def test_equals_pairwise_reference(network, config):
    # Train image 3 is bright, so that (almost) nothing joins it: an empty cluster, which the variants treat
    # differently.
    training = _images(1, 3, 32) + [np.full((32, 32, 3), 255, np.uint8)]
    generated = _images(2, 14, 32)
    result = ic_lpips(generated, training, config=config, network=network, device="cpu", progress=False)
    expected, sizes = _reference(network, generated, training, config.max_members, config.average_over)
    assert result.value == pytest.approx(expected, abs=1e-5)
    assert result.cluster_sizes.tolist() == sizes
    assert np.isnan(result.per_cluster).sum() == sizes.count(0)
    assert 0 in sizes  # the case this test is about
    # Keeping embeddings between the passes or recomputing them gives the same value.
    again = ic_lpips(
        generated, training, config=config, network=network, device="cpu", progress=False, cache_bytes=0
    )
    assert again.value == pytest.approx(result.value, abs=1e-12)


def test_crops_around_the_masks(network):
    config = ICLPIPSConfig(region="crop", image_size=32, crop_margin=0.0, min_crop=8)
    rng = np.random.default_rng(3)
    big = [rng.integers(0, 256, (80, 96, 3), dtype=np.uint8) for _ in range(6)]
    masks = []
    for index in range(6):
        mask = np.zeros((80, 96), dtype=bool)
        mask[10 + index : 42 + index, 20 + 2 * index : 52 + 2 * index] = True  # a 32 x 32 box
        masks.append(mask)
    training, generated = big[:2], big[2:]
    result = ic_lpips(
        generated,
        training,
        config=config,
        generated_masks=masks[2:],
        training_masks=masks[:2],
        network=network,
        device="cpu",
        progress=False,
    )
    crops = [image[10 + i : 42 + i, 20 + 2 * i : 52 + 2 * i] for i, image in enumerate(big)]
    expected, _ = _reference(network, crops[2:], crops[:2], config.max_members, config.average_over)
    assert result.value == pytest.approx(expected, abs=1e-5)


def test_crop_box_is_square_widened_and_inside_the_image():
    mask = np.zeros((50, 60), dtype=bool)
    mask[20:30, 10:14] = True  # 10 high, 4 wide
    assert crop_box(mask, margin=0.5, min_side=4) == (2, 15, 22, 35)  # side 20, centred on (25, 12)
    mask = np.zeros((50, 60), dtype=bool)
    mask[0:2, 58:60] = True  # corner: the square is pushed back inside
    assert crop_box(mask, margin=0.0, min_side=16) == (44, 0, 60, 16)
    with pytest.raises(ValueError, match="empty"):
        crop_box(np.zeros((5, 5), dtype=bool), 0.0, 1)


def test_config_and_input_errors(network):
    with pytest.raises(ValueError, match="max_members"):
        ICLPIPSConfig(max_members=1)
    with pytest.raises(ValueError, match="average_over"):
        ICLPIPSConfig(average_over="some")
    with pytest.raises(ValueError, match="needs a mask"):
        ic_lpips(
            _images(0, 2),
            _images(1, 1),
            config=ICLPIPSConfig(region="crop", image_size=64),
            network=network,
            device="cpu",
            progress=False,
        )
