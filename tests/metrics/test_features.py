"""Feature extraction: clean-fid's "clean" pixels, pluggable extractors, and weights that are never
downloaded (a missing file is an error naming it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cleanfid.utils import ResizeDataset
from PIL import Image

import defect_core.weight_files as weights
from defect_metrics import MissingWeightsError, clean_resize, extract_features, load_inception

# clean-fid's file and address, as its README gives them
INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
)


def _write_images(folder, count=3, sizes=((40, 30), (64, 64), (17, 90))):
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        width, height = sizes[index % len(sizes)]
        path = folder / f"img_{index}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_clean_resize_equals_clean_fid_pixels(tmp_path):
    paths = _write_images(tmp_path)
    reference = ResizeDataset([str(p) for p in paths], mode="clean")
    for index, path in enumerate(paths):
        ours = clean_resize(path)
        assert ours.dtype == np.float32 and ours.shape == (299, 299, 3)
        np.testing.assert_array_equal(ours, reference[index].permute(1, 2, 0).numpy())


def test_pluggable_extractor_sees_clean_pixels_in_batches(tmp_path):
    paths = _write_images(tmp_path, count=5)
    calls = []

    def channel_means(batch: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(batch.shape))
        return batch.mean(dim=(2, 3))

    features = extract_features(paths, channel_means, batch_size=2, device="cpu", progress=False)
    reference = ResizeDataset([str(p) for p in paths], mode="clean")
    expected = np.stack([reference[i].mean(dim=(1, 2)).numpy() for i in range(5)])
    assert features.dtype == np.float64 and features.shape == (5, 3)
    np.testing.assert_allclose(features, expected, rtol=1e-6)
    assert calls == [(2, 3, 299, 299), (2, 3, 299, 299), (1, 3, 299, 299)]


def test_extractor_output_shape_is_checked(tmp_path):
    paths = _write_images(tmp_path, count=2)
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        extract_features(paths, lambda b: b.mean(dim=(1, 2, 3)), device="cpu", progress=False)


class _FakeInception(torch.nn.Module):
    """Stands in for clean-fid's TorchScript file: a ``layers`` module giving 2048 pooled features."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Conv2d(3, 2048, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def test_inception_is_read_from_clean_fid_cache_and_scales_inputs(tmp_path):
    torch.manual_seed(0)
    fake = _FakeInception().eval()
    cache = weights.clean_fid_cache_dir()  # an empty temporary folder in these tests (conftest.py)
    cache.mkdir(parents=True, exist_ok=True)
    torch.jit.script(fake).save(str(cache / INCEPTION_FILE))
    extractor = load_inception(device="cpu")
    images = torch.rand(2, 3, 299, 299) * 255
    with torch.no_grad():
        expected = fake.layers((images - 128) / 128).reshape(2, 2048)
        torch.testing.assert_close(extractor(images), expected)
    with pytest.raises(ValueError, match="299"):
        extractor(torch.rand(1, 3, 64, 64))


def test_missing_inception_weights_name_the_file_and_never_fall_back():
    with pytest.raises(MissingWeightsError) as error:
        load_inception(device="cpu")
    message = str(error.value)
    assert str(weights.clean_fid_cache_dir() / INCEPTION_FILE) in message
    assert INCEPTION_URL in message
    assert isinstance(error.value, FileNotFoundError)


def test_explicit_missing_path_is_named(tmp_path):
    with pytest.raises(MissingWeightsError, match="nowhere.pt"):
        extract_features(
            [np.zeros((8, 8, 3), np.uint8)], inception_weights=tmp_path / "nowhere.pt", progress=False
        )
