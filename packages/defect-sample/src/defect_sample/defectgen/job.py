"""``run_defectgen(config)``: a whole Defect-Gen sampling job, the library function behind
``defect-sample defectgen``.

plan (item j: id ``<object>_<j>``, seed :func:`item_seed` (seed, j)) → this shard's / process's items (the
same split as DefectFill jobs) → skip finished ones (resume) → load the generator (hashes checked) → sample
in batches → write each item through :class:`GenerationWriter` (image, binary mask, labels, colour labels,
then its manifest line) → ``preview.png``. Items do not depend on the batch size, the shard or the order,
so a resumed or sharded run writes the same images as one uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.configs import save_config
from defect_core.errors import InputFileError
from defect_core.generator_card import GeneratorCard, read_generator_card
from defect_core.output_layout import (
    DEFECT_DIR,
    LABELS_COLOR_DIR,
    LABELS_DIR,
    MASK_DIR,
    PREVIEW_NAME,
    GenerationWriter,
)
from defect_core.sample_record import SampleRecord
from defect_sample.config import CONFIG_NAME
from defect_sample.defectgen.config import DefectGenSampleConfig
from defect_sample.defectgen.generator_folder import DefectGenerator, load_generator
from defect_sample.defectgen.preview import defectgen_preview
from defect_sample.defectgen.two_stage import denoise, item_seed, to_samples
from defect_sample.devices import process_device
from defect_sample.generate import check_saved_config, remove_stale_temp_files
from defect_sample.job_plan import parse_shard, process_rank, select_items, slug

logger = logging.getLogger(__name__)

MASK_SOURCE = "defectgen"
"""What the manifest records as a Defect-Gen item's mask origin: the generator made it with the image."""


@dataclass(frozen=True)
class DefectGenItem:
    """One output of the plan: its index, id (file stem) and sampling seed."""

    index: int
    item_id: str
    seed: int


@dataclass(frozen=True)
class DefectGenSummary:
    """What a run did: items in the whole plan, assigned to this process, already finished, written now."""

    out_dir: Path
    planned: int
    assigned: int
    skipped: int
    written: int


def plan_defectgen_items(card: GeneratorCard, count: int, seed: int) -> list[DefectGenItem]:
    """Items 0 … count−1: id ``<object slug>_<j:05d>``, seed ``item_seed(seed, j)`` (a larger count extends
    the plan of a smaller one)."""
    stem = slug(card.object_name)
    return [DefectGenItem(j, f"{stem}_{j:05d}", item_seed(seed, j)) for j in range(count)]


def _owned_outputs(out_dir: Path, items: list[DefectGenItem], shared_files: bool) -> set[Path]:
    owned = set()
    for item in items:
        for folder in (DEFECT_DIR, MASK_DIR, LABELS_DIR, LABELS_COLOR_DIR):
            owned.add(out_dir / folder / f"{item.item_id}.png")
    if shared_files:
        owned |= {out_dir / CONFIG_NAME, out_dir / PREVIEW_NAME}
    return owned


def _check_same_generator(writer: GenerationWriter, generator: DefectGenerator) -> None:
    """A resumed run must use the weights the finished items were made with (the same folder path may hold a
    retrained generator)."""
    for record in writer.records():
        recorded = record.sampler.get("weights_sha256")
        if recorded is not None and recorded != generator.card.weights_sha256:
            raise InputFileError(
                writer.manifest_path,
                f"item {record.item_id} was generated with other weights ({recorded}) than the generator now "
                f"at {generator.path} ({generator.card.weights_sha256}); use another --out",
            )
        return


def _dominant_class(labels: np.ndarray, classes: dict[int, str]) -> str:
    """The name of the class with the most pixels ("none" when the item has no defect pixel)."""
    counts = np.bincount(labels.ravel(), minlength=max(classes) + 1)[1:]
    return classes[int(counts.argmax()) + 1] if counts.any() else "none"


def _dtype(name: str):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def run_defectgen(
    config: DefectGenSampleConfig, *, generator: DefectGenerator | None = None, progress: bool = True
) -> DefectGenSummary:
    """Run one Defect-Gen sampling job (see the module docstring); returns what it did.

    ``generator`` reuses a loaded :class:`DefectGenerator` (it must be the one at ``config.generator``).
    Raises :class:`defect_core.errors.GeneratorFolderError` for a bad generator folder and
    :class:`InputFileError` when the output folder holds a run with other settings or weights.
    """
    config = dataclasses.replace(
        config,
        generator=Path(config.generator).expanduser().resolve(),
        out=Path(config.out).expanduser().resolve(),
    )
    card = generator.card if generator is not None else read_generator_card(config.generator)
    items = plan_defectgen_items(card, config.count, config.seed)
    shard = parse_shard(config.shard) if config.shard else (0, 1)
    rank, world = process_rank()
    mine = select_items(items, shard, (rank, world))  # type: ignore[arg-type] - needs only .index

    writer = GenerationWriter(config.out)
    finished = writer.finished_item_ids()
    if finished:
        check_saved_config(config, writer.out_dir)
    owned = _owned_outputs(writer.out_dir, mine, shared_files=rank == 0 and shard[1] == 1)
    if removed := remove_stale_temp_files(writer.out_dir, owned):
        logger.info("removed %d temporary file(s) left by an interrupted run", removed)
    pending = [it for it in mine if it.item_id not in finished]
    summary = DefectGenSummary(writer.out_dir, len(items), len(mine), len(mine) - len(pending), 0)
    logger.info(
        "plan: %d items; this process (shard %d/%d, rank %d/%d): %d, of which %d already done",
        len(items),
        shard[0],
        shard[1],
        rank,
        world,
        len(mine),
        summary.skipped,
    )
    if not pending:
        return summary

    if generator is None:
        generator = load_generator(
            config.generator, device=process_device(config.device), dtype=_dtype(config.dtype)
        )
    card = generator.card
    _check_same_generator(writer, generator)
    switch = card.switch_step if config.switch_step is None else config.switch_step
    if switch > card.num_train_timesteps:
        raise ValueError(f"--switch-step {switch} is beyond the generator's {card.num_train_timesteps} steps")
    sampler = {
        "method": "defectgen",
        "scheduler": "DDPM" if config.steps is None else "DDIM",
        "steps": card.num_train_timesteps if config.steps is None else config.steps,
        "switch_step": switch,
        "eta": None if config.steps is None else config.eta,
        "resolution": card.resolution,
        "generator": str(generator.path or config.generator),
        "weights_sha256": dict(card.weights_sha256),
        "dtype": str(generator.dtype),
    }
    if rank == 0:
        save_config(config, writer.out_dir / CONFIG_NAME)

    from tqdm.auto import tqdm

    preview_rows: list[tuple[Image.Image, np.ndarray]] = []
    written = 0
    bar = tqdm(
        total=len(pending),
        unit="img",
        desc="defectgen",
        disable=not progress,
        dynamic_ncols=True,
        mininterval=1.0,
    )
    try:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start : start + config.batch_size]
            x0 = denoise(
                generator, [it.seed for it in batch], steps=config.steps, switch_step=switch, eta=config.eta
            )
            for item, (image, labels) in zip(batch, to_samples(x0), strict=True):
                record = SampleRecord(
                    item_id=item.item_id,
                    image=Path(),
                    mask=Path(),
                    source_image=generator.path or config.generator,
                    mask_source=MASK_SOURCE,
                    defect_name=_dominant_class(labels, card.classes),
                    seed=item.seed,
                    base_model=str(generator.path or config.generator),
                    concept=card.generator_id,
                    selection_metric="none",
                    sampler=sampler,
                    package_version=_package_version(),
                    classes=card.classes,
                )
                writer.write_item(record, image, labels > 0, labels=labels)
                if len(preview_rows) < config.preview_rows:
                    preview_rows.append((image, labels))
                written += 1
                bar.update(1)
    finally:
        bar.close()
        if preview_rows and rank == 0:
            save_image_atomic(defectgen_preview(preview_rows), writer.out_dir / PREVIEW_NAME)
    return dataclasses.replace(summary, written=written)


def _package_version() -> str:
    from defect_sample import __version__

    return __version__
