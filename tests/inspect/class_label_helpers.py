"""Helpers of the multi-class segmentation tests: images whose defects carry class ids, written as generation
outputs (labels/ beside mask/) and as a small Defect-Spectrum-shaped tree (DS-MVTec layout).

Each class has its own colour on dark noise (class 1 red, 2 green, 3 blue), so a briefly trained network can
tell the classes apart by colour alone; an image may hold several classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.class_labels import labels_to_color
from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord

SIZE = 32
COLOURS = {1: (230, 20, 20), 2: (20, 230, 20), 3: (20, 20, 230)}
BOTTLE = {1: "broken_large", 2: "broken_small", 3: "contamination"}
"""DS-MVTec's published table for bottle (the defect-spectrum reader's built-in one)."""


def labelled_pair(
    rng: np.random.Generator, ids: tuple[int, ...], size: int = SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (size, size, 3), uint8 (size, size) class ids): dark noise with one box per id in ``ids``,
    painted in the id's colour; boxes do not overlap (each in its own horizontal band)."""
    image = rng.integers(0, 50, (size, size, 3), dtype=np.uint8)
    labels = np.zeros((size, size), dtype=np.uint8)
    band = size // max(len(ids), 1)
    for n, k in enumerate(ids):
        h, w = int(rng.integers(3, max(4, band - 3))), int(rng.integers(5, 14))
        y = n * band + int(rng.integers(1, max(2, band - h)))
        x = int(rng.integers(2, size - w - 2))
        labels[y : y + h, x : x + w] = k
    for k, colour in COLOURS.items():
        image[labels == k] = colour
    return image, labels


def write_labelled_generation_output(
    out: Path,
    classes: dict[int, str],
    combos: list[tuple[int, ...]],
    seed: int = 3,
    defect_name: str = "combined",
) -> Path:
    """A generation output folder with ``labels/``: one item per entry of ``combos`` (the ids it holds)."""
    rng = np.random.default_rng(seed)
    writer = GenerationWriter(out)
    for j, ids in enumerate(combos):
        image, labels = labelled_pair(rng, ids)
        record = SampleRecord(
            item_id=f"{defect_name}_{j:05d}",
            image=Path(),
            mask=Path(),
            source_image=Path("noise"),
            mask_source="generated",
            defect_name=defect_name,
            seed=j,
            base_model="defectgen",
            concept=f"bottle/{defect_name}",
            classes=classes,
        )
        writer.write_item(record, Image.fromarray(image), labels > 0, labels=labels)
    return out


#: the DS tree's defect folders and the class ids in each image of it
DS_FOLDERS: dict[str, tuple[int, ...]] = {
    "broken_large": (1,),
    "broken_small": (2,),
    "contamination": (3,),
    "combined": (1, 3),
}


def write_ds_tree(root: Path, per_folder: int = 6, seed: int = 5) -> Path:
    """A DS-MVTec subset with object ``bottle`` (the published table), ``per_folder`` images per defect
    folder: class-id files in ``mask/``, except ``broken_small`` whose labels exist only as colour files
    spelt ``rbg_mask``; ``combined`` images hold classes 1 and 3 together."""
    rng = np.random.default_rng(seed)
    bottle = root / "bottle"
    for folder, ids in DS_FOLDERS.items():
        for i in range(per_folder):
            image, labels = labelled_pair(rng, ids)
            save_image_atomic(Image.fromarray(image), bottle / "image" / folder / f"{i:03d}.png")
            if folder == "broken_small":
                colour = Image.fromarray(labels_to_color(labels))
                save_image_atomic(colour, bottle / "rbg_mask" / folder / f"{i:03d}_rbg_mask.png")
            else:
                save_image_atomic(
                    Image.fromarray(labels, mode="L"), bottle / "mask" / folder / f"{i:03d}_mask.png"
                )
    return root


def write_mvtec_normals(root: Path, count: int = 4, seed: int = 6) -> Path:
    """The original MVTec AD's defect-free images of bottle, ``<root>/bottle/{train,test}/good``."""
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for i in range(count):
            image = rng.integers(0, 50, (SIZE, SIZE, 3), dtype=np.uint8)
            save_image_atomic(Image.fromarray(image), root / "bottle" / split / "good" / f"{i:03d}.png")
    return root
