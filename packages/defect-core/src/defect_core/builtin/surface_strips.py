"""The surface-strips benchmark: real surface photographs the base model never saw, with drawn defects.

It is cut from the held-out strip of :mod:`defect_core.builtin.surface_photos` (the right quarter of scikit-image's
brick / grass / gravel photographs, which ``builtin:texture`` never trained on), in MVTec AD layout, so the
whole protocol (``defect-inspect experiment``) runs on it like on any dataset. Defects are the demo's
procedural ones (:func:`defect_core.builtin.demo.paint_defect`), with exact masks.

The strip is split once more, by rows, so that no test pixel was ever seen by a generator: the top half
gives ``train/good`` and the first third of every defect category (the examples a concept learns from, by
the ``len // 3`` rule of :mod:`defect_core.datasets.splits`); the bottom half gives ``test/good`` and the held-out two
thirds that the inspection models are scored on. Same arguments, byte-identical files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.builtin.cache import ensure_written
from defect_core.builtin.demo import DEMO_DEFECTS, paint_defect
from defect_core.builtin.surface_photos import (
    HELD_OUT_FRACTION,
    SURFACE_PHOTOS,
    held_out_boundary,
    load_surface_photo,
)
from defect_core.images import mask_to_image

logger = logging.getLogger(__name__)

STRIPS_VERSION = 1
STRIPS_FOLDER = f"surface-strips-v{STRIPS_VERSION}"
Region = tuple[int, int, int, int]  # y0, x0, y1, x1 (end exclusive)


def strip_regions(shape: tuple[int, int]) -> tuple[Region, Region]:
    """(generator region, test region) of a photograph of ``shape`` = (H, W): the top and bottom halves of
    its held-out strip."""
    height, width = shape
    x0 = held_out_boundary(width, HELD_OUT_FRACTION)
    return (0, x0, height // 2, width), (height // 2, x0, height, width)


def strip_view(
    photo: np.ndarray, region: Region, size: int, sides: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """A random square crop of ``region`` (side in ``sides``, clipped to what fits), resized to ``size``,
    turned by k·90° and maybe flipped: uint8 (size, size, 3)."""
    y0, x0, y1, x1 = region
    fits = min(y1 - y0, x1 - x0)
    side = int(rng.integers(min(sides[0], fits), min(sides[1], fits) + 1))
    y = int(rng.integers(y0, y1 - side + 1))
    x = int(rng.integers(x0, x1 - side + 1))
    view = Image.fromarray(photo[y : y + side, x : x + side]).resize((size, size), Image.Resampling.LANCZOS)
    arr = np.rot90(np.asarray(view), k=int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        arr = arr[:, ::-1]
    return np.ascontiguousarray(arr)


def write_surface_strips(
    root: Path,
    *,
    objects: tuple[str, ...] = ("brick", "gravel"),
    defects: tuple[str, ...] = ("scratch", "hole"),
    pairs_per_defect: int = 30,
    normals: int = 40,
    test_normals: int = 10,
    size: int = 64,
    crop_sides: tuple[int, int] = (96, 128),
    seed: int = 0,
) -> Path:
    """Write the benchmark into ``root`` (absent or empty) in MVTec AD layout and return ``root``.

    Per object: ``train/good`` (``normals``), ``test/good`` (``test_normals``), ``test/<defect>/NNN.png`` and
    ``ground_truth/<defect>/NNN_mask.png`` (``pairs_per_defect`` each); RGB ``size`` x ``size`` views of
    ``crop_sides`` photograph pixels. ``dataset.json`` records the arguments and which rows fed which split.
    """
    unknown = [o for o in objects if o not in SURFACE_PHOTOS] + [d for d in defects if d not in DEMO_DEFECTS]
    if not objects or not defects or unknown:
        raise ValueError(
            f"objects must be among {sorted(SURFACE_PHOTOS)} and defects among {DEMO_DEFECTS}; "
            f"got {list(objects)} and {list(defects)}"
        )
    if (
        pairs_per_defect < 3
        or normals < 1
        or test_normals < 1
        or size < 16
        or not 1 <= crop_sides[0] <= crop_sides[1]
    ):
        raise ValueError(
            "need pairs_per_defect >= 3, normals and test_normals >= 1, size >= 16, "
            "1 <= crop_sides[0] <= crop_sides[1]"
        )
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root}: benchmark target must be absent or an empty folder")
    description: dict[str, Any] = {
        "name": "defectfill surface-strips benchmark",
        "layout": "MVTec AD",
        "version": STRIPS_VERSION,
        "seed": seed,
        "image_size": size,
        "crop_sides": list(crop_sides),
        "objects": {},
    }
    for code, object_name in enumerate(objects):
        photo = load_surface_photo(object_name)
        generator_region, test_region = strip_regions(photo.shape[:2])
        base = root / object_name

        def rng_for(stream: int, _code: int = code) -> np.random.Generator:
            return np.random.default_rng([seed, _code, stream])

        def view(region: Region, rng: np.random.Generator, _photo: np.ndarray = photo) -> np.ndarray:
            return strip_view(_photo, region, size, crop_sides, rng)

        for folder, count, region, stream in (
            ("train/good", normals, generator_region, 0),
            ("test/good", test_normals, test_region, 1),
        ):
            rng = rng_for(stream)
            for i in range(count):
                save_image_atomic(Image.fromarray(view(region, rng)), base / folder / f"{i:03d}.png")
        learn = pairs_per_defect // 3
        for defect in defects:
            rng = rng_for(2 + DEMO_DEFECTS.index(defect))
            for i in range(pairs_per_defect):
                region = generator_region if i < learn else test_region
                image, mask = paint_defect(view(region, rng), defect, rng, np.ones((size, size), bool))
                save_image_atomic(Image.fromarray(image), base / "test" / defect / f"{i:03d}.png")
                save_image_atomic(mask_to_image(mask), base / "ground_truth" / defect / f"{i:03d}_mask.png")
        description["objects"][object_name] = {
            "source": f"skimage.data.{SURFACE_PHOTOS[object_name][0]}()",
            "generator_rows_columns": [list(generator_region[::2]), list(generator_region[1::2])],
            "test_rows_columns": [list(test_region[::2]), list(test_region[1::2])],
            "train_good": normals,
            "test_good": test_normals,
            "defects": {d: {"learn": learn, "held_out": pairs_per_defect - learn} for d in defects},
        }
    write_text_atomic(root / "dataset.json", json.dumps(description, indent=2, sort_keys=True) + "\n")
    write_text_atomic(root / "README.txt", __doc__.strip() + "\n\nDetails: dataset.json\n")
    logger.info("wrote the surface-strips benchmark to %s", root)
    return root


def ensure_surface_strips(cache_dir: str | Path | None = None) -> Path:
    """The benchmark with default arguments in ``<cache_dir>/surface-strips-v1``, written on first use."""
    return ensure_written(STRIPS_FOLDER, write_surface_strips, cache_dir)
