"""Defect-Gen's training data: one object's defect images and their class labels as (3 + 1 + n)-channel samples.

A sample is the RGB image in [-1, 1] (3 channels) followed by the one-hot class mask over background and each
of the n defect classes ({0, 1}; channel 3 is the background, channel 3 + k class k), resized to the
training resolution (the image with Lanczos, the labels by nearest neighbour so that every pixel keeps one
class). The training images of every category are the training side of DefectFill's split rule (the first
third by file name, or VisA's first 10), of which the large network sees the first 5 and the small one the
first 50 (paper). Binary datasets name one class per category (the category's name); a multi-class dataset
(Defect Spectrum) brings the object's class table, and its ids are kept when they are 1..n.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from defect_core.datasets import open_dataset
from defect_core.datasets.splits import resolve_split_rule, select_split
from defect_core.defect_example import DefectExample
from defect_core.images import load_rgb
from defect_train.defectgen.config import DefectGenTrainConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefectGenData:
    """The examples each network trains on, the held-out ones, and the class table they share.

    ``classes``: ``{1: name, ...}`` (ids 1..n, background implicit); ``large`` / ``small``: the capped training
    examples per network, category by category; ``held_out``: the rest of each category (for evaluation).
    """

    object_name: str
    categories: tuple[str, ...]
    classes: dict[int, str]
    large: tuple[DefectExample, ...]
    small: tuple[DefectExample, ...]
    held_out: tuple[DefectExample, ...]
    root: Path

    @property
    def num_channels(self) -> int:
        return 3 + 1 + len(self.classes)


def shared_class_table(examples: list[DefectExample]) -> dict[int, str]:
    """One class table for ``examples``: every class name of their tables, numbered 1..n in order of first
    appearance (examples in the given order, each table by id). A dataset whose examples share one table
    with ids 1..n keeps its ids; binary examples ({1: category}) get one id per category, in order."""
    names: list[str] = []
    for example in examples:
        for _, name in sorted(example.class_table.items()):
            if name not in names:
                names.append(name)
    return {i: name for i, name in enumerate(names, start=1)}


def resolve_defectgen_data(config: DefectGenTrainConfig) -> DefectGenData:
    """Read the dataset and pick each network's training examples.

    Raises ``ValueError`` naming the problem for an unknown object or defect (listing the available ones),
    and for categories that have no training example under the split rule (fewer than 3 examples under
    first-third)."""
    reader = open_dataset(
        config.dataset,
        config.root,
        object_name=config.object_name,
        defect_name=config.defect_names[0] if len(config.defect_names) == 1 else None,
    )
    reader.require_object(config.object_name)
    categories = config.defect_names or tuple(reader.defect_names(config.object_name))
    if not categories:
        raise ValueError(f"object {config.object_name!r} in {reader.root} has no defect categories")
    for name in categories:
        reader.require_defect(config.object_name, name)
    rule = resolve_split_rule(config.split_rule, reader.split_rule)
    large: list[DefectExample] = []
    small: list[DefectExample] = []
    held_out: list[DefectExample] = []
    empty: list[str] = []
    for name in categories:
        examples = reader.defect_examples(config.object_name, name)
        train = select_split(examples, "train", rule)
        if not train:
            empty.append(f"{name} ({len(examples)} example(s))")
        large += train[: config.large_images_per_class]
        small += train[: config.small_images_per_class]
        held_out += select_split(examples, "held_out", rule)
    if empty:
        raise ValueError(
            f"{reader.root}: object {config.object_name!r} has no training images under the {rule} split "
            f"for {', '.join(empty)}; Defect-Gen needs at least one per category (choose others with "
            "--defect-names)"
        )
    classes = shared_class_table(small)
    logger.info(
        "Defect-Gen data: %s, %d class(es) %s; %d image(s) for the large network, %d for the small one",
        config.object_name,
        len(classes),
        list(classes.values()),
        len(large),
        len(small),
    )
    return DefectGenData(
        config.object_name,
        tuple(categories),
        classes,
        tuple(large),
        tuple(small),
        tuple(held_out),
        reader.root,
    )


def encode_example(example: DefectExample, classes: dict[int, str], resolution: int) -> torch.Tensor:
    """One training sample (3 + 1 + n, R, R) float32: RGB in [-1, 1], then the one-hot mask ({0, 1}) over
    background and the n classes of ``classes`` (the example's own ids are mapped through their names)."""
    image = load_rgb(example.image).resize((resolution, resolution), Image.Resampling.LANCZOS)
    rgb = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1.0
    labels = example.load_labels()
    ids = {name: k for k, name in classes.items()}
    lookup = np.zeros(256, dtype=np.int64)
    for local, name in example.class_table.items():
        if name not in ids:
            raise ValueError(f"{example.labels or example.mask}: class {name!r} is not in {classes}")
        lookup[local] = ids[name]
    # ids absent from the example's table stay background: a reader validates its label files
    resized = Image.fromarray(labels).resize((resolution, resolution), Image.Resampling.NEAREST)
    global_ids = torch.from_numpy(lookup[np.asarray(resized)])
    one_hot = torch.nn.functional.one_hot(global_ids, num_classes=len(classes) + 1)
    return torch.cat([rgb, one_hot.permute(2, 0, 1).float()])


def encode_examples(
    examples: tuple[DefectExample, ...] | list[DefectExample], classes: dict[int, str], resolution: int
) -> torch.Tensor:
    """The samples of ``examples`` stacked: (N, 3 + 1 + n, R, R) float32."""
    return torch.stack([encode_example(e, classes, resolution) for e in examples])
