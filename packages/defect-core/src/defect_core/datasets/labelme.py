"""labelme annotations (a ``<stem>.json`` beside an image) turned into class-index label images.

A labelme file holds ``shapes``: each a ``label`` (the class name), a ``shape_type`` and ``points`` in pixel
coordinates (x right, y down). Read here: ``polygon`` (three points or more; labelme's default when
``shape_type`` is absent) and ``rectangle`` (two opposite corners); any other type is a named error.

**Fill rule** (the one of labelme's own ``shape_to_mask`` / ``shapes_to_label``, so a label image matches
what labelme exports): integer coordinates are pixel centres; a shape is drawn with PIL ``ImageDraw`` filled
*and* outlined, so every pixel whose centre is inside the shape or on its outline belongs to it; shapes are
painted in file order, a later shape over an earlier one. For example the rectangle (2, 3)-(5, 7) covers
columns 2..5 and rows 3..7, 4 x 5 = 20 pixels.

**Checks** (each a named :class:`~defect_core.errors.InputFileError`): the JSON reads and has a ``shapes``
list; every shape has a non-empty label, a supported type and the right number of numeric points; every
point lies inside the image, ``0 <= x <= width`` and ``0 <= y <= height``; ``imagePath`` names the image
beside which the file lies; ``imageWidth`` / ``imageHeight`` are the image's size; at least one shape.

**Cache.** A :class:`~defect_core.defect_example.DefectExample` points at a label *file*, and readers never
write into the dataset folder, so rasterised label images go to the user cache
(``<cache>/labelme/<table key>/<stem>-<file key>.png``, :func:`~defect_core.builtin.cache.default_cache_dir`),
written atomically. The folder is keyed by the class table and the file name by the JSON's bytes, the image
size and :data:`RASTER_VERSION`: an edited annotation or a changed table gets a new file, never a stale one.
Each table folder also holds the table itself, ``classes.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageDraw

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.class_labels import labels_image
from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

LABELME_SUFFIX = ".json"
SHAPE_TYPES = ("polygon", "rectangle")
RASTER_VERSION = 1
"""Part of every cache key: raise it when the fill rule changes, so cached label images are rebuilt."""


@dataclass(frozen=True)
class LabelmeShape:
    """One shape: its class name, type ("polygon" or "rectangle") and points (x, y) in pixels."""

    label: str
    shape_type: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class LabelmeFile:
    """A parsed labelme file: its shapes, what it says about its image, and the SHA-256 of its bytes."""

    path: Path
    shapes: tuple[LabelmeShape, ...]
    image_path: str | None
    image_size: tuple[int | None, int | None]
    """(imageWidth, imageHeight) as written; ``None`` where absent."""
    digest: str

    @property
    def label_names(self) -> list[str]:
        """The distinct labels of the shapes, sorted."""
        return sorted({s.label for s in self.shapes})


def _shape_problem(index: int, raw: object) -> tuple[LabelmeShape | None, str | None]:
    """The shape ``shapes[index]``, or the problem that keeps it from being one."""
    where = f"shapes[{index}]"
    if not isinstance(raw, dict):
        return None, f"{where} is not an object"
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        return None, f"{where} has no label"
    shape_type = raw.get("shape_type") or "polygon"
    if shape_type not in SHAPE_TYPES:
        return None, f"{where} ({label!r}) is a {shape_type!r}; only {' and '.join(SHAPE_TYPES)} are read"
    points = raw.get("points")
    if not isinstance(points, list) or not all(
        isinstance(p, list | tuple)
        and len(p) == 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) and np.isfinite(c) for c in p)
        for p in points
    ):
        return None, f"{where} ({label!r}) needs points [[x, y], ...] of numbers"
    needed_ok = len(points) >= 3 if shape_type == "polygon" else len(points) == 2
    if not needed_ok:
        needed = "3 points or more" if shape_type == "polygon" else "2 points (opposite corners)"
        return None, f"{where} ({label!r}) is a {shape_type} with {len(points)} point(s); it needs {needed}"
    return LabelmeShape(label, shape_type, tuple((float(x), float(y)) for x, y in points)), None


def _size_field(data: dict, key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_labelme(path: str | Path) -> LabelmeFile:
    """Parse a labelme file; :class:`InputFileError` naming it (and every bad shape) when it is unusable."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
        data = json.loads(raw_bytes.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"cannot be read as JSON ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise InputFileError(path, 'is not a labelme file: no "shapes" list')
    shapes: list[LabelmeShape] = []
    problems: list[str] = []
    for index, raw in enumerate(data["shapes"]):
        shape, problem = _shape_problem(index, raw)
        if problem:
            problems.append(problem)
        else:
            shapes.append(shape)
    if problems:
        raise InputFileError(path, "; ".join(problems))
    image_path = data.get("imagePath")
    return LabelmeFile(
        path=path,
        shapes=tuple(shapes),
        image_path=image_path if isinstance(image_path, str) and image_path else None,
        image_size=(_size_field(data, "imageWidth"), _size_field(data, "imageHeight")),
        digest=hashlib.sha256(raw_bytes).hexdigest(),
    )


def labelme_problems(annotation: LabelmeFile, image: Path, size: tuple[int, int]) -> list[InputFileError]:
    """What in ``annotation`` disagrees with its image (``size``: width, height): ``imagePath``,
    ``imageWidth`` / ``imageHeight``, points outside the image, no shape at all."""
    problems: list[InputFileError] = []
    path = annotation.path
    if annotation.image_path is not None:
        named = PurePosixPath(annotation.image_path.replace("\\", "/")).name
        if named != image.name:
            problems.append(
                InputFileError(path, f"imagePath {annotation.image_path!r} is not its image {image.name}")
            )
    width, height = size
    written_w, written_h = annotation.image_size
    if (written_w is not None and written_w != width) or (written_h is not None and written_h != height):
        problems.append(
            InputFileError(
                path,
                f"imageWidth x imageHeight {written_w}x{written_h} is not the size of {image.name}, "
                f"{width}x{height}",
            )
        )
    for index, shape in enumerate(annotation.shapes):
        outside = [(x, y) for x, y in shape.points if not (0 <= x <= width and 0 <= y <= height)]
        if outside:
            shown = ", ".join(f"({x:g}, {y:g})" for x, y in outside[:4])
            problems.append(
                InputFileError(
                    path,
                    f"shapes[{index}] ({shape.label!r}, {shape.shape_type}) has point(s) outside the "
                    f"{width}x{height} image {image.name}: {shown}",
                )
            )
    if not annotation.shapes:
        problems.append(InputFileError(path, "has no shapes: the image would have no defect pixel"))
    return problems


def rasterize(
    shapes: tuple[LabelmeShape, ...] | list[LabelmeShape], size: tuple[int, int], classes: Mapping[int, str]
) -> np.ndarray:
    """Class ids of ``shapes`` on an image of ``size`` (width, height): uint8 (H, W), 0 where no shape is.

    The fill rule is the module's (labelme's); every shape's label must be a name in ``classes``
    (``{id: name}``), else ``ValueError`` naming it.
    """
    ids = {name: k for k, name in classes.items()}
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    for shape in shapes:
        if shape.label not in ids:
            raise ValueError(f"label {shape.label!r} is not in the class table {dict(classes)}")
        k = ids[shape.label]
        if shape.shape_type == "rectangle":
            (x0, y0), (x1, y1) = shape.points
            draw.rectangle([(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))], fill=k, outline=k)
        else:
            draw.polygon(list(shape.points), fill=k, outline=k)
    return np.asarray(canvas, dtype=np.uint8)


def _table_key(classes: Mapping[int, str]) -> str:
    canonical = json.dumps({str(k): v for k, v in sorted(classes.items())}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def cached_labels(
    annotation: LabelmeFile, image: Path, size: tuple[int, int], classes: Mapping[int, str], cache_dir: Path
) -> Path:
    """The label PNG of ``annotation`` in ``cache_dir`` (see the module), rasterised and written atomically
    on first use; the table folder's ``classes.json`` records ``classes``."""
    folder = Path(cache_dir) / "labelme" / _table_key(classes)
    key_source = f"{RASTER_VERSION}:{annotation.digest}:{size[0]}x{size[1]}"
    key = hashlib.sha256(key_source.encode("utf-8")).hexdigest()[:20]
    target = folder / f"{image.stem}-{key}.png"
    if not target.is_file():
        save_image_atomic(labels_image(rasterize(annotation.shapes, size, classes)), target)
        logger.debug("rasterised %s into %s", annotation.path, target)
    table_file = folder / "classes.json"
    if not table_file.is_file():
        write_text_atomic(table_file, json.dumps({str(k): v for k, v in sorted(classes.items())}, indent=1))
    return target
