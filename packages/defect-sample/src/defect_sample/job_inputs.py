"""The inputs of a generation job: normal images, masks (real files or generated shapes) and their checks.

Every bad input is reported before any model is loaded, all at once, each naming its file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from defect_core.concept_card import ConceptCard
from defect_core.errors import DatasetError, DefectfillError, InputFileError
from defect_core.images import list_images, load_rgb
from defect_core.masks.placement import estimate_foreground, generate_placed_mask
from defect_sample.config import SampleConfig
from defect_sample.generated_masks import (
    generation_class_id,
    generation_output_masks,
    is_generation_output,
    read_job_mask,
)
from defect_sample.job_plan import PlanGroup, WorkItem, slug
from defect_sample.working_size import resize_pair, working_size

logger = logging.getLogger(__name__)


def _reader(config: SampleConfig, defect_name: str | None = None):
    from defect_core.datasets import open_dataset

    # a plain folder holds one category, named by the caller: the concept's defect when masks are read
    # for a concept, else --defect-name
    return open_dataset(
        config.dataset,
        config.dataset_root,
        object_name=config.object_name,
        defect_name=defect_name or config.defect_name,
        normals_root=config.normals_root,
    )


@contextmanager
def _names_checked(root: Path, hint: str = "") -> Iterator[None]:
    """A reader's ``ValueError`` for a name it does not hold (object, defect, split) as an input error naming
    the dataset folder, which the command reports in one line instead of a traceback."""
    try:
        yield
    except DefectfillError:
        raise
    except ValueError as exc:
        raise InputFileError(root, f"{exc}{hint}") from exc


def resolve_normals(config: SampleConfig) -> list[Path]:
    """The defect-free images: ``--normals DIR`` or the dataset reader's good images, sorted by name."""
    if config.normals is not None:
        normals = list_images(config.normals)
        where = config.normals
    else:
        reader = _reader(config)
        with _names_checked(reader.root):
            normals = reader.normal_images(config.object_name, config.normal_split)
        where = reader.root
    if not normals:
        raise InputFileError(where, "holds no defect-free images (png, jpg, bmp, tif, webp)")
    return normals


def mask_threshold(config: SampleConfig) -> int:
    """The gray level from which a mask pixel is defect: the dataset reader's for ``--mask-split``."""
    return _reader(config).mask_threshold if config.mask_split is not None else config.mask_threshold


def _real_masks(config: SampleConfig, defect_name: str) -> tuple[Path, ...]:
    if config.mask_split is not None:
        from defect_core.datasets.split_selection import select_real_examples

        reader = _reader(config, defect_name)
        hint = " (with --prompt, --defect-name names the dataset's defect)" if config.prompt else ""
        with _names_checked(reader.root, hint):
            examples = select_real_examples(
                reader, config.object_name, defect_name, config.mask_split, config.split_rule
            )
        masks = tuple(e.mask for e in examples)
        if not masks:
            which = "official test" if config.mask_split == "test" else config.mask_split
            raise InputFileError(
                reader.root, f"{config.object_name}/{defect_name} has no masks in the {which} split"
            )
        return masks
    assert config.masks is not None
    if config.mask_class or is_generation_output(config.masks):  # a Defect-Gen run's shapes, one class or all
        class_id = generation_class_id(config.masks, config.mask_class) if config.mask_class else None
        return generation_output_masks(config.masks, class_id)
    folder = config.masks / defect_name if (config.masks / defect_name).is_dir() else config.masks
    masks = tuple(list_images(folder))
    if not masks:
        raise InputFileError(folder, "holds no mask images")
    return masks


def build_groups(config: SampleConfig, cards: Sequence[ConceptCard]) -> list[PlanGroup]:
    """One plan group per concept (or one for the zero-shot prompt), with its masks or shapes.

    File stems are the defect names, with the object name in front when two concepts share a defect name.
    """
    if not cards:
        defects = [(f"prompt:{config.prompt}", config.defect_name, None)]
    else:
        ids = [c.concept_id for c in cards]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"several concept files are the same concept {duplicates}: one per defect type")
        defects = [(f"concept:{c.concept_id}", c.defect_name, c.object_name) for c in cards]
    defect_slugs = [slug(d) for _, d, _ in defects]
    groups = []
    for (key, defect, obj), stem in zip(defects, defect_slugs, strict=True):
        if defect_slugs.count(stem) > 1 and obj is not None:
            stem = f"{slug(obj)}_{stem}"
        groups.append(
            PlanGroup(
                key=key,
                stem=stem,
                defect_name=defect,
                mask_paths=() if config.shapes else _real_masks(config, defect),
                shapes=config.shapes,
            )
        )
    return groups


def check_input_files(
    normals: Sequence[Path], masks: Sequence[Path], threshold: int, mask_class_id: int | None = None
) -> None:
    """Open every normal image's header and load every mask (with ``mask_class_id``: that class of a label
    file, :func:`read_job_mask`); raise one :class:`DatasetError` listing each unreadable image and each
    empty or all-defect mask."""
    problems: list[InputFileError] = []
    for path in sorted(set(normals)):
        try:
            with Image.open(path) as im:
                im.size  # noqa: B018 -- reading the header is the check
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            problems.append(InputFileError(path, f"cannot be read as an image ({exc})"))
    for path in sorted(set(masks)):
        try:
            mask = read_job_mask(path, threshold, mask_class_id)
        except InputFileError as exc:
            problems.append(exc)
            continue
        if not mask.any():
            problems.append(
                InputFileError(path, f"mask is empty (no pixel >= {threshold}; defect pixels must be white)")
            )
        elif mask.all():
            problems.append(InputFileError(path, "mask covers the whole image: nothing left to condition on"))
    if problems:
        folders = [str(Path(p.path).resolve().parent) for p in problems]
        raise DatasetError(Path(os.path.commonpath(folders)), problems)


def load_item_pair(
    item: WorkItem,
    resolution: int,
    threshold: int,
    shape_size: tuple[float, ...] = (),
    size: tuple[int, int] | None = None,
    mask_class_id: int | None = None,
) -> tuple[Image.Image, np.ndarray]:
    """The item's normal image and mask at its working size: long side ``resolution``, or exactly ``size``
    = (W, H) when given (aspect not kept, as DIAG squashes KSDD2 to 1024 x 1024).

    A real mask is resized to the normal image's working size; a shape is drawn on the resized normal
    image, inside its estimated foreground, from a generator seeded with the item's seed.
    """
    normal = load_rgb(item.normal)
    size = tuple(size) if size is not None else working_size(normal.size, resolution)
    if item.mask_path is not None:
        image, mask = resize_pair(normal, read_job_mask(item.mask_path, threshold, mask_class_id), size)
        if not mask.any():
            raise InputFileError(item.mask_path, "mask is empty")
        return image, mask
    image = normal.convert("RGB").resize(size, Image.Resampling.BICUBIC) if normal.size != size else normal
    params = {"min_frac": shape_size[0], "max_frac": shape_size[1]} if shape_size else {}
    rng = np.random.default_rng(item.seed)
    try:
        mask = generate_placed_mask(item.shape, (size[1], size[0]), estimate_foreground(image), rng, **params)
    except ValueError as exc:
        raise InputFileError(
            item.normal, f"cannot place a {item.shape!r} mask on this image ({exc})"
        ) from exc
    return image, mask
