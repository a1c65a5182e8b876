"""``run_generation(config)``: a whole generation job, the library function behind the ``defect-sample`` CLI.

plan (deterministic) → this shard's / process's items → skip finished ones (resume) → check the inputs →
load the model once → fill items in batches → write each item atomically, its manifest line last →
``preview.png``. A run killed at any point and started again with the same settings ends with exactly the
planned images, each once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from defect_core.atomic import temp_target
from defect_core.concept_file import read_concept_card
from defect_core.configs import build_config, load_toml, save_config
from defect_core.errors import InputFileError
from defect_core.output_layout import CANDIDATE_DIR, DEFECT_DIR, MASK_DIR, PREVIEW_NAME, GenerationWriter
from defect_core.sample_record import SampleRecord
from defect_sample.config import CONFIG_NAME, SampleConfig
from defect_sample.denoising_schedule import steps_run
from defect_sample.devices import process_device
from defect_sample.generated_masks import generation_class_id
from defect_sample.job_inputs import (
    build_groups,
    check_input_files,
    load_item_pair,
    mask_threshold,
    resolve_normals,
)
from defect_sample.job_plan import WorkItem, parse_shard, plan_work_items, process_rank, select_items
from defect_sample.pipeline import DefectFillPipeline
from defect_sample.selection import CandidateSelector, create_selector

if TYPE_CHECKING:
    from defect_sample.defectgen.config import DefectGenSampleConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSummary:
    """What a run did: items in the whole plan, assigned to this process, already finished, written now."""

    out_dir: Path
    planned: int
    assigned: int
    skipped: int
    written: int


def _package_version() -> str:
    from defect_sample import __version__

    return __version__


def _absolute_paths(config: SampleConfig) -> SampleConfig:
    """The config with every path made absolute, so that the saved copy means the same from anywhere."""
    changes: dict[str, object] = {"concept": tuple(p.expanduser().resolve() for p in config.concept)}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Path):
            changes[f.name] = value.expanduser().resolve()
    return dataclasses.replace(config, **changes)


def check_saved_config(config: SampleConfig | DefectGenSampleConfig, out_dir: Path) -> None:
    """Refuse to resume a run with other settings: compare with the ``config.toml`` of an earlier run in
    ``out_dir``.

    Raises :class:`InputFileError` naming the saved file when a setting that changes the images differs:
    resuming would mix two runs in one folder. Call it only when the folder holds finished items (a run
    that stopped before writing any may be restarted with other settings).
    """
    path = out_dir / CONFIG_NAME
    if not path.is_file():
        return
    try:
        saved = build_config(type(config), load_toml(path))
    except (ValueError, TypeError) as exc:
        raise InputFileError(path, f"saved config of an earlier run is invalid ({exc})") from exc
    old, new = saved.plan_values(), config.plan_values()
    diffs = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in old if old[k] != new[k]]
    if diffs:
        raise InputFileError(
            path,
            "the output folder holds a run with other settings ("
            + "; ".join(diffs)
            + "); use another --out, or delete the folder to start over",
        )


STALE_TEMP_SECONDS = 600


def owned_outputs(out_dir: Path, items: Sequence[WorkItem], candidates: int, shared_files: bool) -> set[Path]:
    """The files that only this process writes: its items' images, masks and candidates, and with
    ``shared_files`` (rank 0 of a run that is not split into shards) ``config.toml`` and ``preview.png``."""
    owned = set()
    for item in items:
        owned |= {out_dir / DEFECT_DIR / f"{item.item_id}.png", out_dir / MASK_DIR / f"{item.item_id}.png"}
        owned |= {out_dir / CANDIDATE_DIR / f"{item.item_id}_{k}.png" for k in range(candidates)}
    if shared_files:
        owned |= {out_dir / CONFIG_NAME, out_dir / PREVIEW_NAME}
    return owned


def remove_stale_temp_files(
    out_dir: Path, owned: Collection[Path] = (), older_than_s: float = STALE_TEMP_SECONDS
) -> int:
    """Delete the temporary files of atomic writes (``.<name>.tmp-<pid>``,
    :func:`defect_core.atomic.temp_path_for`) that a killed run left in ``out_dir``'s tree; return how many.

    The temporary file of an output in ``owned`` (:func:`owned_outputs`, called before this process writes
    anything) goes whatever its age: no other process writes that file, so it is a kill's leftover, such as
    ``.preview.png.tmp-<pid>`` from a kill during the preview write seconds before the resume. Any other
    goes only when older than ``older_than_s``: a process of another shard may be writing it right now (on
    another machine its pid means nothing here), and no single write takes minutes. A file without that name
    pattern is never touched.
    """
    owned = {Path(p) for p in owned}
    removed = 0
    now = time.time()
    for path in sorted(Path(out_dir).rglob(".*.tmp-*")):
        target = temp_target(path)
        if target is None:
            continue
        try:
            if not path.is_file():
                continue
            if target in owned or now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished or another process removed it
            pass
    return removed


def _batches(items: Sequence[WorkItem], per_call: int) -> Iterator[list[WorkItem]]:
    """Consecutive items of one plan group, at most ``per_call`` at a time."""
    batch: list[WorkItem] = []
    for item in items:
        if batch and (len(batch) == per_call or batch[0].group != item.group):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def run_generation(
    config: SampleConfig,
    *,
    pipeline: DefectFillPipeline | None = None,
    selector: CandidateSelector | None = None,
    progress: bool = True,
) -> GenerationSummary:
    """Run one generation job (see the module docstring); returns what it did.

    ``pipeline`` reuses a loaded :class:`DefectFillPipeline` (its base model must be the run's; concepts
    are loaded into it unless already there); ``selector`` replaces the one named by ``config.select``
    (tests pass an LPIPS with a random backbone).
    """
    config = _absolute_paths(config)
    cards = [read_concept_card(p) for p in config.concept]
    model_id = config.base_model or cards[0].base_model.source
    normals = resolve_normals(config)
    groups = build_groups(config, cards)
    items = plan_work_items(groups, normals, config.count, config.seed)
    shard = parse_shard(config.shard) if config.shard else (0, 1)
    rank, world = process_rank()
    mine = select_items(items, shard, (rank, world))

    out_dir = Path(config.out)
    writer = GenerationWriter(out_dir)
    finished = writer.finished_item_ids()
    if finished:
        check_saved_config(config, out_dir)
    owned = owned_outputs(writer.out_dir, mine, config.candidates, shared_files=rank == 0 and shard[1] == 1)
    if removed := remove_stale_temp_files(writer.out_dir, owned):
        logger.info("removed %d temporary file(s) left by an interrupted run", removed)
    pending = [it for it in mine if it.item_id not in finished]
    summary = GenerationSummary(
        out_dir=writer.out_dir,
        planned=len(items),
        assigned=len(mine),
        skipped=len(mine) - len(pending),
        written=0,
    )
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

    threshold = mask_threshold(config)
    # --mask-class: the masks are label files of a generation output folder, one class of them is the mask
    class_id = generation_class_id(config.masks, config.mask_class) if config.mask_class else None
    check_input_files(
        [it.normal for it in pending], [it.mask_path for it in pending if it.mask_path], threshold, class_id
    )

    device = process_device(config.device) if pipeline is None else pipeline.device
    # before the model loads: missing LPIPS weights fail in a second, not after minutes of loading
    selector = selector or create_selector(config.select, device, config.lpips_weights)
    if pipeline is None:
        pipeline = DefectFillPipeline.from_pretrained(
            model_id,
            device=device,
            dtype=config.dtype,
            revision=config.base_model_revision,
            progress=progress,
        )
    loaded = []
    for path in config.concept:
        known = [c for c in pipeline.concepts.concepts if c.path.resolve() == path]
        loaded.append(known[0] if known else pipeline.load_concept(path, force=config.force))

    zero_shot = not cards
    # the config resolved every unset setting (its mode's defaults, its preset)
    steps, guidance = config.steps, config.guidance
    size = tuple(config.working_size) or None
    output_size = tuple(config.output_size) or None
    native = pipeline.base.unet.config.sample_size * pipeline.base.vae_scale_factor
    per_call = max(1, config.batch_size // config.candidates)
    scheduler_name = type(pipeline.sampler.schedulers[config.scheduler]).__name__.removesuffix("Scheduler")

    if rank == 0:
        # written once the inputs passed their checks and the model loaded, beside the first outputs
        save_config(config, out_dir / CONFIG_NAME)
    preview_rows: list[tuple[Image.Image, np.ndarray, Image.Image]] = []
    # every concept gets its share of preview.png
    per_group_preview = max(1, config.preview_rows // len(groups))
    preview_taken: dict[int | None, int] = {}
    written = 0
    bar = _progress_bar(len(pending), enabled=progress)
    try:
        for batch in _batches(pending, per_call):
            concept = None if zero_shot else loaded[batch[0].group]
            resolution = config.resolution or (native if concept is None else concept.card.resolution)
            pairs = [
                load_item_pair(
                    it, resolution, threshold, config.shape_size, size=size, mask_class_id=class_id
                )
                for it in batch
            ]
            prompt = (
                config.prompt if concept is None else pipeline.concept_prompt(concept, config.concept_prompt)
            )
            out = pipeline(
                image=[p[0] for p in pairs],
                mask=[p[1] for p in pairs],
                concept=concept,
                prompt=prompt,
                negative_prompt=config.negative_prompt,
                num_candidates=config.candidates,
                select=selector,
                num_inference_steps=steps,
                guidance_scale=guidance,
                seed=[it.seed for it in batch],
                batch_size=config.batch_size,
                background_replacement=config.background_replacement,
                pixel_composite=config.pixel_composite,
                strength=config.strength,
                padding_mask_crop=config.mask_crop_padding,
                output_size=output_size,
                scheduler=config.scheduler,
            )
            for k, item in enumerate(batch):
                record = SampleRecord(
                    item_id=item.item_id,
                    image=Path(),
                    mask=Path(),
                    source_image=item.normal,
                    mask_source=item.mask_source,
                    defect_name=item.defect_name,
                    seed=item.seed,
                    base_model=model_id,
                    concept=None if concept is None else concept.concept_id,
                    prompt=prompt if concept is None else None,
                    candidate_index=out.selected[k],
                    selection_metric=selector.name,
                    scores=out.scores[k],
                    sampler={
                        "scheduler": scheduler_name,
                        "steps": steps,
                        "steps_run": steps_run(steps, config.strength),
                        "strength": config.strength,
                        "padding_mask_crop": config.mask_crop_padding,
                        "guidance_scale": guidance,
                        "candidates": config.candidates,
                        "working_size": list(pairs[k][0].size),
                        "size": list(out.images[k].size),
                        "prompt": prompt,
                        "negative_prompt": config.negative_prompt,
                        "background_replacement": config.background_replacement,
                        "pixel_composite": config.pixel_composite,
                        "dtype": str(pipeline.sampler.dtype),
                    },
                    package_version=_package_version(),
                )
                writer.write_item(
                    record, out.images[k], out.masks[k], out.candidates[k] if config.keep_candidates else ()
                )
                if preview_taken.get(item.group, 0) < per_group_preview:
                    preview_taken[item.group] = preview_taken.get(item.group, 0) + 1
                    preview_rows.append((out.normals[k], out.masks[k], out.images[k]))
                written += 1
                bar.update(1)
    finally:
        bar.close()
        if preview_rows and rank == 0:
            writer.write_preview(preview_rows)
    return dataclasses.replace(summary, written=written)


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    # unit "img": tqdm's rate then reads images per second
    return tqdm(
        total=total,
        unit="img",
        desc="defect-sample",
        disable=not enabled,
        dynamic_ncols=True,
        mininterval=1.0,
    )
