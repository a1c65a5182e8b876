"""Helpers of the defect-inspect tests: a trivially separable synthetic dataset, generation outputs, tiny models.

(Not in conftest.py: test modules import these by name, and every test folder has a conftest.)

Synthetic images: dark noise (0..59) with the defect painted bright (200..255), so a pixel's brightness alone
tells defect from background: any segmenter that learns anything reaches a pixel AUROC near 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.images import mask_to_image
from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord

SIZE = 32
DEFECTS = ("square", "stripe")
OBJECT = "tile"


def synthetic_pair(rng: np.random.Generator, defect: str, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (size, size, 3), bool mask): dark noise with a bright square (6-10 px) or stripe (2 x 12-20 px)."""
    image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), dtype=bool)
    # a margin keeps defects off the border, where zero padding makes a briefly trained network unsure
    margin = 3
    if defect == "square":
        side = int(rng.integers(6, 11))
        y, x = (int(v) for v in rng.integers(margin, size - side - margin, 2))
        mask[y : y + side, x : x + side] = True
    else:
        length = int(rng.integers(12, 21))
        y, x = int(rng.integers(margin, size - 2 - margin)), int(rng.integers(margin, size - length - margin))
        mask[y : y + 2, x : x + length] = True
    image[mask] = rng.integers(200, 256, (int(mask.sum()), 3), dtype=np.uint8)
    return image, mask


def normal_image(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    return rng.integers(0, 60, (size, size, 3), dtype=np.uint8)


def write_synthetic_dataset(
    root: Path, pairs: int = 9, train_good: int = 8, test_good: int = 3, seed: int = 0
) -> Path:
    """MVTec layout: ``tile/{train,test}/good``, ``tile/test/<defect>``, ``tile/ground_truth/<defect>``."""
    rng = np.random.default_rng(seed)
    base = root / OBJECT
    for split, count in (("train", train_good), ("test", test_good)):
        for i in range(count):
            save_image_atomic(Image.fromarray(normal_image(rng)), base / split / "good" / f"{i:03d}.png")
    for defect in DEFECTS:
        for i in range(pairs):
            image, mask = synthetic_pair(rng, defect)
            save_image_atomic(Image.fromarray(image), base / "test" / defect / f"{i:03d}.png")
            save_image_atomic(mask_to_image(mask), base / "ground_truth" / defect / f"{i:03d}_mask.png")
    return root


def write_generation_output(
    out: Path, count: int = 12, seed: int = 1, defects: tuple[str, ...] = DEFECTS
) -> Path:
    """A generation output folder written by defect-core's GenerationWriter, one manifest record per image."""
    rng = np.random.default_rng(seed)
    writer = GenerationWriter(out)
    for defect in defects:
        for j in range(count):
            image, mask = synthetic_pair(rng, defect)
            record = SampleRecord(
                item_id=f"{defect}_{j:05d}",
                image=Path(),
                mask=Path(),
                source_image=out / "n.png",
                mask_source="shape:test",
                defect_name=defect,
                seed=j,
                base_model="builtin:tiny",
                concept=f"{OBJECT}/{defect}",
                selection_metric="none",
            )
            writer.write_item(record, Image.fromarray(image), mask)
    return out


def tiny_config(tmp_path: Path, task: str, **overrides):
    """An InspectConfig that trains in seconds on the CPU: 32 px, tiny networks, no ImageNet weights."""
    from defect_inspect import InspectConfig

    models = {
        "classifier": ("test_efficientnet", None),
        "detector": ("test_efficientnet", None),
        "segmenter": ("unet", "resnet18"),
    }
    model, encoder = models[task]
    values = {
        "task": task,
        "model": model,
        "encoder": encoder,
        "pretrained": False,
        "epochs": 1,
        "batch_size": 8,
        "resolution": SIZE,
        "learning_rate": 1e-3,
        "out": tmp_path / task,
        "preview_count": 4,
    }
    return InspectConfig(**{**values, **overrides})
