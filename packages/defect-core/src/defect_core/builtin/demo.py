"""A small built-in demo dataset in MVTec AD layout, made from scikit-image's bundled photographs.

It lets every command run end to end without downloading anything: the normal images are crops of real
texture photographs (``skimage.data.brick()``, ``grass()``, ``gravel()``, 512 x 512 grey, tinted to RGB),
the defects are procedural (scratches, holes, stains) painted into other crops, with their exact masks.
Everything is drawn from ``numpy.random.default_rng`` seeded by (seed, object, stream), so one seed gives
byte-identical files. scikit-image is imported only inside the functions that need it (``defect-core[demo]``).
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.builtin.cache import ensure_written
from defect_core.builtin.surface_photos import SURFACE_PHOTOS, load_surface_photo
from defect_core.images import mask_to_image
from defect_core.masks import erode, mask_bbox
from defect_core.masks.placement import estimate_foreground, generate_placed_mask

logger = logging.getLogger(__name__)

DEMO_VERSION = 1
DEMO_FOLDER = f"demo-v{DEMO_VERSION}"

DEMO_OBJECTS = SURFACE_PHOTOS  # object name -> (skimage.data function, RGB tint)
# each object gets the first ``defects_per_object`` of these, in this order
DEMO_DEFECTS: tuple[str, ...] = ("scratch", "hole", "stain")
TEST_NORMALS = 3

_STAIN_COLOURS = ((112, 72, 30), (45, 42, 32), (150, 64, 22))
# streams of random numbers per object; a defect's stream depends on its name, not on how many are written
_STREAM_TRAIN, _STREAM_TEST_GOOD, _STREAM_DEFECT0 = 0, 1, 2


def _random_view(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (3/8 to 5/8 of the photo side), resized to ``size``, flipped / turned by 90°."""
    side = min(photo.shape[:2])
    crop = int(rng.integers(side * 3 // 8, side * 5 // 8 + 1))
    y = int(rng.integers(0, photo.shape[0] - crop + 1))
    x = int(rng.integers(0, photo.shape[1] - crop + 1))
    view = Image.fromarray(photo[y : y + crop, x : x + crop]).resize((size, size), Image.Resampling.LANCZOS)
    arr = np.rot90(np.asarray(view), k=int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        arr = arr[:, ::-1]
    return np.ascontiguousarray(arr)


def _blend(image: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = image.astype(np.float32) * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def paint_defect(
    image: np.ndarray, defect: str, rng: np.random.Generator, foreground: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Paint one procedural defect into a copy of ``image`` (uint8 (H, W, 3)); return (image, mask).

    ``foreground`` (bool (H, W)) says where a defect may go; default: the object found by
    :func:`~defect_core.masks.placement.estimate_foreground` (pass all True for a surface that fills the image).

    The mask is bool (H, W), non-empty, and exactly the pixels that were painted: pixels outside it are left
    unchanged. Defects (placed on :func:`~defect_core.masks.placement.estimate_foreground`'s foreground):
    - ``scratch``: a 1-2 px polyline, dark on bright surfaces and bright on dark ones (85 % opaque);
    - ``hole``: a dark ellipse whose rim is shaded from dark (top) to lighter (bottom);
    - ``stain``: a blob tinted brown, oily black or rust, with a soft alpha (35-75 %) fading to its edge.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
    size = arr.shape[:2]
    if foreground is None:
        foreground = estimate_foreground(arr)
    elif foreground.shape != size or not foreground.any():
        raise ValueError(f"foreground must be a non-empty bool mask of shape {size}, got {foreground.shape}")
    if defect == "scratch":
        mask = generate_placed_mask(
            "scratch", size, foreground, rng, min_frac=0.25, max_frac=0.6, min_width=1, max_width=2
        )
        # contrast with what is under the scratch, so that it is visible on any surface
        colour = 25.0 if arr[mask].mean() > 110 else 235.0
        alpha = np.where(mask, 0.85, 0.0).astype(np.float32)
        return _blend(arr, np.full(3, colour, np.float32), alpha), mask
    if defect == "hole":
        mask = generate_placed_mask("ellipse", size, foreground, rng, min_frac=0.12, max_frac=0.3)
        y0, _, y1, _ = mask_bbox(mask)
        rim = max(1, (y1 - y0) // 6)
        inner = erode(mask, rim)
        rows = np.linspace(0.0, 1.0, size[0], dtype=np.float32)[:, None]
        shade = np.clip((rows - y0 / size[0]) / max((y1 - y0) / size[0], 1e-6), 0.0, 1.0)
        # alpha of a black overlay: the inside is nearly black, the rim goes from shadow to half-lit
        alpha = np.where(inner, 0.88, np.where(mask, 0.75 - 0.4 * shade, 0.0)).astype(np.float32)
        return _blend(arr, np.zeros(3, np.float32), alpha), mask
    if defect == "stain":
        mask = generate_placed_mask("blob", size, foreground, rng, min_frac=0.2, max_frac=0.4)
        soft = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2.5))
        depth = np.asarray(soft, dtype=np.float32) / 255.0
        alpha = np.where(mask, 0.35 + 0.4 * depth, 0.0).astype(np.float32)
        colour = np.asarray(_STAIN_COLOURS[int(rng.integers(0, len(_STAIN_COLOURS)))], dtype=np.float32)
        return _blend(arr, colour, alpha), mask
    raise ValueError(f"unknown demo defect {defect!r}; available: {', '.join(DEMO_DEFECTS)}")


def _stem(index: int, count: int) -> str:
    return f"{index:0{max(3, len(str(count - 1)))}d}"


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _check_args(
    objects: tuple[str, ...], defects_per_object: int, pairs: int, normals: int, size: int, seed: int
) -> None:
    unknown = [o for o in objects if o not in DEMO_OBJECTS]
    if not objects or unknown:
        raise ValueError(f"objects must be a non-empty subset of {sorted(DEMO_OBJECTS)}, got {list(objects)}")
    if len(set(objects)) != len(objects):
        raise ValueError(f"objects has duplicates: {list(objects)}")
    if not 1 <= defects_per_object <= len(DEMO_DEFECTS):
        raise ValueError(f"defects_per_object must be in 1..{len(DEMO_DEFECTS)}, got {defects_per_object}")
    for name, value in (("pairs_per_defect", pairs), ("normals", normals)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def write_demo_dataset(
    root: Path,
    *,
    objects: tuple[str, ...] = ("brick", "gravel"),
    defects_per_object: int = 2,
    pairs_per_defect: int = 9,
    normals: int = 30,
    size: int = 128,
    seed: int = 0,
) -> Path:
    """Write the demo dataset into ``root`` (absent or empty) in MVTec AD layout and return ``root``.

    Per object: ``train/good/000.png`` .. (``normals`` images), ``test/good/`` (3 images),
    ``test/<defect>/000.png`` .. and ``ground_truth/<defect>/000_mask.png`` (0 / 255, same size) for
    ``pairs_per_defect`` pairs of each of the first ``defects_per_object`` of ``DEMO_DEFECTS``. Images are
    RGB ``size`` x ``size``. ``dataset.json`` and ``README.txt`` at the root describe the contents. Every
    file is written atomically; the same arguments give byte-identical files.
    """
    objects = tuple(objects)
    _check_args(objects, defects_per_object, pairs_per_defect, normals, size, seed)
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root}: demo dataset target must be absent or an empty folder")
    defects = DEMO_DEFECTS[:defects_per_object]
    description: dict[str, Any] = {
        "name": "defectfill demo dataset",
        "layout": "MVTec AD",
        "demo_version": DEMO_VERSION,
        "seed": seed,
        "image_size": size,
        "objects": {},
        "source_photographs": "scikit-image sample data (skimage.data.<name>(), 512x512 grey), tinted to RGB",
        "generator": {
            "function": "defect_core.builtin.demo.write_demo_dataset",
            "defect-core": _package_version("defect-core"),
            "scikit-image": _package_version("scikit-image"),
        },
    }
    for object_name in objects:
        photo = load_surface_photo(object_name)
        code = sorted(DEMO_OBJECTS).index(object_name)
        base = root / object_name

        def stream(k: int, _code: int = code) -> np.random.Generator:
            return np.random.default_rng([seed, _code, k])

        rng = stream(_STREAM_TRAIN)
        for i in range(normals):
            save_image_atomic(
                Image.fromarray(_random_view(photo, size, rng)),
                base / "train" / "good" / f"{_stem(i, normals)}.png",
            )
        rng = stream(_STREAM_TEST_GOOD)
        for i in range(TEST_NORMALS):
            save_image_atomic(
                Image.fromarray(_random_view(photo, size, rng)),
                base / "test" / "good" / f"{_stem(i, TEST_NORMALS)}.png",
            )
        for defect in defects:
            rng = stream(_STREAM_DEFECT0 + DEMO_DEFECTS.index(defect))
            for i in range(pairs_per_defect):
                image, mask = paint_defect(_random_view(photo, size, rng), defect, rng)
                stem = _stem(i, pairs_per_defect)
                save_image_atomic(Image.fromarray(image), base / "test" / defect / f"{stem}.png")
                save_image_atomic(mask_to_image(mask), base / "ground_truth" / defect / f"{stem}_mask.png")
        description["objects"][object_name] = {
            "source": f"skimage.data.{DEMO_OBJECTS[object_name][0]}()",
            "train_good": normals,
            "test_good": TEST_NORMALS,
            "defects": {d: pairs_per_defect for d in defects},
        }
    write_text_atomic(root / "dataset.json", json.dumps(description, indent=2, sort_keys=True) + "\n")
    write_text_atomic(root / "README.txt", _readme(description))
    logger.info("wrote demo dataset to %s", root)
    return root


def _readme(description: dict[str, Any]) -> str:
    lines = [
        "defectfill demo dataset (MVTec AD layout)",
        "",
        "Normal images are random crops (flipped / turned by 90 degrees, resized to "
        f"{description['image_size']} px)",
        "of scikit-image's bundled texture photographs, tinted to RGB.",
        "Defects are procedural: scratch (thin polyline), hole (dark ellipse, shaded rim),",
        "stain (tinted blob, soft alpha), painted into other crops; ground_truth/<defect>/<stem>_mask.png",
        "is 255 exactly where the image was painted.",
        "It exists to run the pipeline end to end offline; it is not a benchmark.",
        "",
        f"seed: {description['seed']}",
    ]
    for name, obj in description["objects"].items():
        pairs = ", ".join(f"{d} x{n}" for d, n in obj["defects"].items())
        counts = f"train/good {obj['train_good']}, test/good {obj['test_good']}, {pairs}"
        lines.append(f"{name}: from {obj['source']}; {counts}")
    lines.append("Written by defect_core.builtin.demo.write_demo_dataset; details in dataset.json.")
    return "\n".join(lines) + "\n"


def ensure_demo_dataset(cache_dir: str | Path | None = None) -> Path:
    """The default demo dataset in ``<cache_dir>/demo-v1``, written on first use and reused afterwards
    (atomically, see :func:`defect_core.builtin.cache.ensure_written`; ``cache_dir`` defaults to
    ``$DEFECTFILL_CACHE`` or ``~/.cache/defectfill``)."""
    return ensure_written(DEMO_FOLDER, write_demo_dataset, cache_dir)
