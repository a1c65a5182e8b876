"""The training and test sets of an inspection run, gathered from every source it names.

Training: generation outputs (one folder per defect type, or one folder holding several), optionally real
defects of a dataset (its training third, or all its training defects), and defect-free images (a folder, or
else the dataset's ``train/good``). Test: the real held-out two thirds of the dataset's defects (or its
official test split's, KSDD2) and its ``test/good`` images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from defect_core.datasets import DatasetReader
from defect_inspect.data.generated import read_generation_output
from defect_inspect.data.items import InspectionItem, label_counts
from defect_inspect.data.real import folder_normal_items, normal_items, real_defect_items, resolve_defects

logger = logging.getLogger(__name__)


def training_items(
    generated: Sequence[Path] = (),
    *,
    reader: DatasetReader | None = None,
    object_name: str | None = None,
    defects: Sequence[str] = (),
    real_train: str | bool = "none",
    normals: Path | None = None,
    dataset_normals: bool = True,
    split_rule: str = "auto",
    generated_per_real: float = 0.0,
    seed: int = 0,
) -> list[InspectionItem]:
    """Every training item: generated defects, real defects (``real_train``: ``"none"``, ``"train"`` = the
    training third, ``"all"`` = every training defect; ``True`` means ``"train"``) and defect-free images
    (``normals``, or the dataset's ``train/good`` when ``dataset_normals``).

    ``generated_per_real`` > 0 (with ``real_train``) keeps, per defect type, ``round(generated_per_real × n)``
    generated images for its ``n`` real ones: a seeded (``seed``) subset in their original order.

    ``defects`` keeps only those defect types (all when empty). Raises ``ValueError`` when no defect image
    is left.
    """
    if isinstance(real_train, bool):  # the meaning before real_train took a split name
        real_train = "train" if real_train else "none"
    if real_train not in ("none", "train", "all"):
        raise ValueError(f"real_train must be none, train or all; got {real_train!r}")
    if generated_per_real < 0 or (generated_per_real > 0 and real_train == "none"):
        raise ValueError(f"generated_per_real={generated_per_real} needs real_train and must be >= 0")
    items: list[InspectionItem] = []
    for folder in generated:
        items += read_generation_output(folder)
    if real_train != "none":
        if reader is None or object_name is None:
            raise ValueError(
                "the real training split needs a dataset (--dataset, --dataset-root, --object-name)"
            )
        real = real_defect_items(reader, object_name, real_train, defects, split_rule)
        if generated_per_real > 0:
            items = mix_generated(items, real, generated_per_real, seed)
        items += real
    if defects:
        dropped = sorted({i.label for i in items if i.label not in defects})
        if dropped:
            logger.info("leaving out defect type(s) %s (not in --defects %s)", dropped, list(defects))
        items = [i for i in items if i.label in defects]
    if not items:
        raise ValueError(
            "no defect images to train on: give generation outputs (--train DIR) and/or the real training "
            "split (--real-train with --dataset)"
        )
    if normals is not None:
        items += folder_normal_items(normals)
    elif dataset_normals and reader is not None and object_name is not None:
        items += normal_items(reader, object_name, "train")
    logger.info("training items: %s", label_counts(items))
    return items


def mix_generated(
    generated: Sequence[InspectionItem], real: Sequence[InspectionItem], per_real: float, seed: int
) -> list[InspectionItem]:
    """A seeded subset of ``generated`` with ``round(per_real × n)`` items of each type that ``real`` has ``n``
    of (all of a type when it has fewer; none of a type that ``real`` lacks), in their original order."""
    rng = np.random.default_rng(seed)
    wanted = {label: round(per_real * n) for label, n in label_counts(list(real)).items()}
    keep: list[int] = []
    for label in sorted(wanted):
        members = [i for i, item in enumerate(generated) if item.label == label]
        take = min(wanted[label], len(members))
        if take < wanted[label]:
            logger.warning(
                "%s: %d generated image(s), fewer than the %d a %g:1 mix asks; using all of them",
                label,
                len(members),
                wanted[label],
                per_real,
            )
        keep += [int(i) for i in rng.choice(members, size=take, replace=False)]
    dropped = sorted({item.label for item in generated} - set(wanted))
    if dropped:
        logger.info("generated type(s) %s have no real counterpart in the mix: left out", dropped)
    return [generated[i] for i in sorted(keep)]


def evaluation_items(
    reader: DatasetReader,
    object_name: str,
    *,
    defects: Sequence[str] = (),
    split: str = "held_out",
    normals: bool = True,
    split_rule: str = "auto",
) -> list[InspectionItem]:
    """The real test set: the defects of ``split`` (the held-out two thirds by default, under ``split_rule``;
    ``"test"``: the official test split) and, with ``normals``, the dataset's ``test/good`` images."""
    items = real_defect_items(
        reader,
        object_name,
        split,
        resolve_defects(reader, object_name, defects),  # type: ignore[arg-type]
        split_rule,
    )
    if normals:
        items += normal_items(reader, object_name, "test")
    if not items:
        raise ValueError(f"the {split} split of {object_name!r} in {reader.root} is empty")
    logger.info("test items (%s): %s", split, label_counts(items))
    return items
