"""Image features for KID and FID: clean-fid's Inception-v3, or any backbone the user plugs in.

The "clean" protocol of clean-fid (Parmar et al. 2022): read the image as 8-bit RGB, resize each channel
as a float image with PIL's bicubic filter to 299 × 299 without quantising back to 8 bits, clip to [0, 255],
feed the values in [0, 255] to the TorchScript Inception-v3 of the StyleGAN2-ADA metrics (which scales them
to [-1, 1]) and take the 2048-d pool features. The resizer is clean-fid's own function, so the pixels match.

A feature extractor is any callable from a float32 tensor (N, 3, H, W) with values in [0, 255] to a
tensor (N, d): :func:`load_inception` builds the standard one; tests and other backbones pass their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from defect_core.errors import InputFileError
from defect_metrics.devices import resolve_device
from defect_metrics.image_inputs import ImageInput, describe, to_rgb
from defect_metrics.weights import inception_weights_path

logger = logging.getLogger(__name__)

#: (N, 3, H, W) float32 in [0, 255] -> (N, d).
FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]

INCEPTION_SIZE = 299
INCEPTION_DIM = 2048


class InceptionFeatures(torch.nn.Module):
    """clean-fid's TorchScript Inception-v3 as a feature extractor: (N, 3, 299, 299) in [0, 255] -> (N, 2048)."""

    def __init__(self, scripted: torch.nn.Module) -> None:
        super().__init__()
        self.layers = scripted.layers

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1:] != (3, INCEPTION_SIZE, INCEPTION_SIZE):
            raise ValueError(f"Inception-v3 takes (N, 3, 299, 299), got {tuple(images.shape)}")
        # The network was trained on [-1, 1]; clean-fid maps [0, 255] with (x - 128) / 128.
        return self.layers.forward((images - 128.0) / 128.0).reshape(images.shape[0], INCEPTION_DIM)


def load_inception(
    weights_path: str | Path | None = None, device: str | torch.device = "cpu"
) -> InceptionFeatures:
    """The Inception-v3 feature extractor, from ``weights_path`` or clean-fid's cache (never downloaded).

    Raises :class:`defect_core.errors.MissingWeightsError` naming the file when it is not on disk.
    """
    path = inception_weights_path(weights_path)
    try:
        scripted = torch.jit.load(str(path), map_location=device).eval()
    except (RuntimeError, ValueError) as exc:
        raise InputFileError(path, f"is not a TorchScript file ({exc})") from exc
    if not hasattr(scripted, "layers"):
        raise InputFileError(path, "is not clean-fid's Inception-v3 TorchScript file (it has no 'layers')")
    logger.info("Inception-v3 weights from %s", path)
    return InceptionFeatures(scripted).to(device).eval()


def clean_resize(image: ImageInput, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid's "clean" resize: float32 (size, size, 3) in [0, 255] from any :data:`ImageInput`."""
    from cleanfid.resize import make_resizer

    pixels = np.array(to_rgb(image))
    return make_resizer("PIL", False, "bicubic", (size, size))(pixels)


def _prepared(image: ImageInput, index: int, size: int | None) -> np.ndarray:
    try:
        if size is None:
            return np.asarray(to_rgb(image), dtype=np.float32)
        return clean_resize(image, size)
    except InputFileError:
        raise
    except (OSError, ValueError) as exc:
        raise ValueError(f"{describe(image, index)}: {exc}") from exc


def extract_features(
    images: Sequence[ImageInput],
    extractor: FeatureExtractor | None = None,
    *,
    image_size: int | None = INCEPTION_SIZE,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    workers: int = 4,
    inception_weights: str | Path | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Features of ``images`` (paths, PIL images or uint8 arrays), float64 (N, d).

    Each image is resized the clean-fid way to ``image_size`` (``None``: kept as is, then all images must
    share one size) and passed in batches as float32 (B, 3, H, W) in [0, 255] to ``extractor`` (default:
    clean-fid's Inception-v3 from ``inception_weights`` or its cache). ``workers`` threads read and resize.
    """
    if not images:
        raise ValueError("no images given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    torch_device = resolve_device(device)
    if extractor is None:
        if image_size != INCEPTION_SIZE:
            raise ValueError(f"Inception-v3 needs image_size={INCEPTION_SIZE}, got {image_size}")
        extractor = load_inception(inception_weights, torch_device)
    outputs: list[np.ndarray] = []
    batches = range(0, len(images), batch_size)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in tqdm(batches, desc="features", unit="batch", disable=not progress, leave=False):
            chunk = images[start : start + batch_size]
            arrays = list(
                pool.map(_prepared, chunk, range(start, start + len(chunk)), [image_size] * len(chunk))
            )
            shapes = {a.shape for a in arrays}
            if len(shapes) > 1:
                raise ValueError(
                    f"images {start}..{start + len(chunk) - 1} differ in size {sorted(shapes)}; set image_size"
                )
            batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().to(torch_device)
            with torch.inference_mode():
                features = extractor(batch)
            features = torch.as_tensor(features)
            if features.ndim != 2 or features.shape[0] != batch.shape[0]:
                raise ValueError(
                    f"the feature extractor must return (N, d) = ({batch.shape[0]}, d), got {tuple(features.shape)}"
                )
            outputs.append(features.detach().to("cpu", torch.float64).numpy())
    return np.concatenate(outputs)
