"""Label images built by hand for the export tests, with their regions listed as they are drawn, and the
writers of a generation output folder and of a dataset source that hold them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.defect_example import DefectExample
from defect_core.exports import ExportItem, ExportSource
from defect_core.masks.shapes import create_mask
from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord

CLASSES = {1: "crack", 2: "stain"}


@dataclass
class LabelCase:
    """A label image and the regions drawn into it: (class id, bool (H, W) mask), one per connected region."""

    labels: np.ndarray
    regions: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def draw(self, class_id: int, pixels: np.ndarray) -> None:
        self.labels[pixels] = class_id
        self.regions.append((class_id, pixels))


def _pixels(shape: tuple[int, int], *cells: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for y, x in cells:
        mask[y, x] = True
    return mask


def _box(shape: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def hand_case() -> LabelCase:
    """20 x 24, two classes, 8 regions: a ring (a hole holding a one-pixel region of the other class), a region
    with two holes, two pixels touching only at a corner (one region with 8-connectivity), a lone pixel,
    regions touching the top / right and the bottom / left borders, an L shape."""
    shape = (20, 24)
    case = LabelCase(np.zeros(shape, dtype=np.uint8))
    ring = _box(shape, 2, 9, 2, 9) & ~_box(shape, 4, 7, 4, 7)
    case.draw(1, ring)
    case.draw(2, _pixels(shape, (5, 5)))  # inside the ring's hole
    case.draw(1, _box(shape, 10, 16, 6, 13) & ~_pixels(shape, (11, 8)) & ~_box(shape, 13, 15, 8, 11))
    case.draw(1, _pixels(shape, (12, 2), (13, 3)))  # corner to corner
    case.draw(1, _pixels(shape, (17, 10)))
    case.draw(2, _box(shape, 0, 4, 18, 24))  # top-right corner of the image
    case.draw(2, _box(shape, 16, 20, 0, 2))  # bottom-left corner
    case.draw(2, _box(shape, 10, 15, 14, 16) | _box(shape, 14, 15, 14, 21))  # an L
    return case


def blob_case(size: int = 256, seed: int = 0) -> np.ndarray:
    """A realistic label image: blobs and scratches of :mod:`defect_core.masks.shapes` in two classes,
    later shapes painted over earlier ones (so regions of the two classes touch and cut each other)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=np.uint8)
    for k in range(8):
        shape = "blob" if k % 3 else "scratch"
        labels[create_mask(shape, (size, size), rng)] = 1 + k % 2
    return labels


def random_image(shape: tuple[int, int], seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8))


def write_generation(
    out: Path,
    label_images: list[np.ndarray],
    classes: dict[int, str] | None = CLASSES,
    names: list[str] | None = None,
) -> Path:
    """A generation output folder (GenerationWriter) with one item per label image; ``classes=None`` writes
    binary items (mask only) named after ``names`` (their defects)."""
    writer = GenerationWriter(out)
    normal = out.parent / "normals" / "normal.png"
    normal.parent.mkdir(parents=True, exist_ok=True)
    random_image(label_images[0].shape, 99).save(normal)
    for i, labels in enumerate(label_images):
        defect = names[i] if names else "mixed"
        record = SampleRecord(
            item_id=f"item_{i:03d}",
            image=Path("pending.png"),
            mask=Path("pending_mask.png"),
            source_image=normal,
            mask_source="hand",
            defect_name=defect,
            seed=i,
            base_model="builtin:tiny",
            concept=f"tile/{defect}",
            classes=classes or {},
        )
        writer.write_item(
            record,
            random_image(labels.shape, i),
            labels > 0,
            labels=labels if classes else None,
        )
    return out


def example_source(
    tmp: Path, label_images: list[np.ndarray], classes: dict[int, str] = CLASSES
) -> ExportSource:
    """A source of multi-class DefectExamples (what a reader that knows classes returns)."""
    items = []
    for i, labels in enumerate(label_images):
        image, mask, label_file = (
            tmp / "ds" / f"{i:03d}{suffix}" for suffix in (".png", "_mask.png", "_labels.png")
        )
        image.parent.mkdir(parents=True, exist_ok=True)
        random_image(labels.shape, i).save(image)
        Image.fromarray(np.where(labels > 0, 255, 0).astype(np.uint8)).save(mask)
        Image.fromarray(labels).save(label_file)
        example = DefectExample(image, mask, "tile", "mixed", labels=label_file, classes=classes)
        items.append(ExportItem(f"ex_{i:03d}", example))
    return ExportSource(tmp / "ds", tuple(items), (), "hand-made examples")
