"""``train_concept(config) -> Path``: DefectFill fine-tuning from a few defect pairs to a concept file.

The run folder receives: ``concept.safetensors``, ``config.toml`` (the resolved config), ``loss.csv`` and
``loss.png`` (one curve per loss term), ``preview.png`` (the new concept filled into good images at
held-out masks), ``manifest.json`` (what was trained on, timings, final losses), ``train.log`` and
``checkpoints/``. Ctrl-C writes a checkpoint before exiting; ``resume=True`` continues from the newest.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from defect_core.atomic import write_text_atomic
from defect_core.concept_card import ConceptCard
from defect_core.concept_file import save_concept
from defect_core.configs import config_to_dict, save_config
from defect_core.datasets import open_dataset
from defect_core.datasets.splits import resolve_split_rule, select_split
from defect_core.defect_example import DefectExample
from defect_core.errors import NonFiniteLossError
from defect_sample.base_model_error import BaseModelError
from defect_sample.devices import resolve_device
from defect_sample.model_loading import is_sdxl, load_base_model
from defect_train import __version__
from defect_train.checkpoints import TrainingState, list_checkpoints, load_checkpoint, save_checkpoint
from defect_train.config import TrainConfig
from defect_train.data import DefectPairs
from defect_train.interrupt import TrainingInterrupted, interrupt_flag
from defect_train.lora import add_paper_lora, cast_lora_to_fp32, export_lora_tensors
from defect_train.loss_log import LossLog
from defect_train.losses import LossWeights
from defect_train.objective import BoxSpec, DefectFillObjective
from defect_train.preview import write_training_preview
from defect_train.processes import agree_on_step, batch_rows

logger = logging.getLogger(__name__)
LOSS_COLUMNS = ("total", "defect", "object", "attention", "lr")
PLOTTED_LOSSES = ("total", "defect", "object", "attention")


@dataclass(frozen=True)
class TrainingData:
    """The examples to learn from, and what the preview uses: good images and held-out masks."""

    examples: list[DefectExample]
    held_out: list[DefectExample]
    normals: list[Path]
    root: Path


def resolve_training_data(config: TrainConfig) -> TrainingData:
    """Read the dataset through a defect-core reader; unknown names raise ``ValueError`` listing the choices."""
    reader = open_dataset(
        config.dataset,
        config.root,
        object_name=config.object_name,
        defect_name=config.defect_name,
        normals_root=config.normals_root,
    )
    all_examples = reader.defect_examples(config.object_name, config.defect_name)
    rule = resolve_split_rule(config.split_rule, reader.split_rule)
    examples = select_split(all_examples, config.split, rule)
    held_out = select_split(all_examples, "held_out", rule) or all_examples
    normals = reader.normal_images(config.object_name, "train")
    return TrainingData(examples, held_out, normals, reader.root)


def _warmup(warmup_steps: int):
    # linear warm-up reaching the full rate at step `warmup_steps`, constant after (RealFill's schedule)
    return lambda step: min(1.0, (step + 1) / max(1, warmup_steps))


@dataclass(frozen=True)
class StepReport:
    """What ``train_concept``'s ``on_step`` receives after each optimisation step, in every process.

    ``losses``: the batch's loss terms (the same in every process); ``trainable``: name → LoRA parameter
    after the step (the live tensors: read them, do not change them).
    """

    step: int
    losses: dict[str, float]
    trainable: dict[str, torch.Tensor]
    process_index: int
    num_processes: int


def train_concept(config: TrainConfig, *, on_step: Callable[[StepReport], None] | None = None) -> Path:
    """Learn the concept of ``config.object_name`` / ``config.defect_name``; return the concept file path.

    Under ``torchrun`` / ``accelerate launch`` every process runs this; ``config.batch_size`` is the global
    batch, split evenly between the processes (:mod:`defect_train.processes`), and only the main process
    writes files. ``on_step`` is called after every step (progress reporting, experiment tracking, tests).
    """
    run_dir = Path(config.output_dir)
    accelerator = _accelerator(config)
    if not accelerator.is_main_process:
        return _train(config, run_dir, accelerator, on_step)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_handler = logging.FileHandler(run_dir / "train.log")
    log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("defect_train").addHandler(log_handler)
    try:
        return _train(config, run_dir, accelerator, on_step)
    finally:
        logging.getLogger("defect_train").removeHandler(log_handler)
        log_handler.close()


def _accelerator(config: TrainConfig):
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.state import AcceleratorState

    # accelerate keeps one process-wide state; a second run in the same process (a notebook, the
    # experiment command) with another precision would be refused. The distributed part (PartialState)
    # is kept; only the precision settings are dropped.
    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != config.mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)
    # split_batches: each step's batch is split between the processes (defect_train.processes), so the learning
    # rate schedule advances one step per step; by default accelerate advances it once per process and step,
    # which on N processes ran the warm-up N times too fast
    return Accelerator(
        mixed_precision=config.mixed_precision,
        cpu=resolve_device(config.device).type == "cpu",
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )


@dataclass
class _Run:
    """Everything one training run holds between its setup, its steps and its finish."""

    config: TrainConfig
    run_dir: Path
    accelerator: object
    data: TrainingData
    pairs: DefectPairs
    base: object  # LoadedBaseModel
    unet: torch.nn.Module  # wrapped by accelerate (DDP under several processes)
    text_encoder: torch.nn.Module
    optimizer: torch.optim.Optimizer
    lr_scheduler: object
    objective: DefectFillObjective
    state: TrainingState
    loss_log: LossLog
    rows: slice
    started: float


def _train(
    config: TrainConfig, run_dir: Path, accelerator, on_step: Callable[[StepReport], None] | None
) -> Path:
    run = _setup(config, run_dir, accelerator)
    trainable = list(run.state.trainable.values())
    with (
        interrupt_flag() as interrupt,
        tqdm(
            total=config.steps,
            initial=run.state.step,
            desc="defect-train",
            unit="step",
            disable=not accelerator.is_local_main_process,
        ) as bar,
    ):
        while run.state.step < config.steps:
            batch_losses, stop = _step(run, trainable, interrupt)
            row = run.loss_log.rows[-1]
            bar.update(1)
            bar.set_postfix(loss=f"{row['total']:.4f}", l_def=f"{row['defect']:.4f}")
            if on_step is not None:
                on_step(
                    StepReport(
                        run.state.step,
                        batch_losses,
                        run.state.trainable,
                        accelerator.process_index,
                        accelerator.num_processes,
                    )
                )
            if stop:
                accelerator.wait_for_everyone()  # the others leave once the main process wrote the checkpoint
                raise TrainingInterrupted(
                    f"interrupted at step {run.state.step}; checkpoint written in "
                    f"{run_dir / 'checkpoints'}; continue with --resume"
                )
    return _finish(run)


def _setup(config: TrainConfig, run_dir: Path, accelerator) -> _Run:
    """Data, base model with LoRA, optimizer, objective and state (resumed from the last checkpoint if asked)."""
    from diffusers import DDPMScheduler

    started = time.time()
    # the main process writes what is built on first use (the demo data, builtin models, hub downloads) before
    # the others read it
    with accelerator.main_process_first():
        data = resolve_training_data(config)
    pairs = DefectPairs(
        data.examples, config.resolution, config.batch_size, config.min_resize, config.max_resize
    )
    logger.info(
        "learning %s/%s from %d example(s) at %d px",
        config.object_name,
        config.defect_name,
        len(pairs),
        config.resolution,
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    rows = batch_rows(config.batch_size, rank, world)  # this process's share of each step's batch
    if world > 1:
        logger.info(
            "%d processes, %d sample(s) of each batch of %d per process",
            world,
            rows.stop - rows.start,
            config.batch_size,
        )
    if accelerator.is_main_process:
        save_config(config, run_dir / "config.toml")
    weight_dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
        config.mixed_precision
    ]
    # the card's base-model identity (requested / loaded id, hub commit, fingerprints) is taken at load time
    with accelerator.main_process_first():
        base = load_base_model(
            config.base_model,
            dtype=weight_dtype,
            device=accelerator.device,
            revision=config.base_model_revision,
        )
    pipe = base.pipe
    if is_sdxl(pipe):
        # the objective conditions on one text encoder and no size embeddings; SDXL needs both
        raise BaseModelError(
            config.base_model,
            "is an SDXL inpainting model: DefectFill training takes Stable Diffusion 1 / 2 inpainting bases "
            "(SDXL bases serve zero-shot generation: defect-sample --prompt)",
        )
    vae, unet, text_encoder, tokenizer = pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer
    vae.requires_grad_(False)
    torch.manual_seed(config.seed)  # LoRA initialisation
    add_paper_lora(
        unet, text_encoder, config.rank, config.lora_alpha, config.lora_dropout, config.train_text_encoder
    )
    cast_lora_to_fp32(unet, text_encoder)
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
        if config.train_text_encoder:
            text_encoder.gradient_checkpointing_enable()
    unet.train()
    text_encoder.train(config.train_text_encoder)

    unet_params = {f"unet.{n}": p for n, p in unet.named_parameters() if p.requires_grad}
    te_params = {f"text_encoder.{n}": p for n, p in text_encoder.named_parameters() if p.requires_grad}
    groups = [{"params": list(unet_params.values()), "lr": config.learning_rate}]
    if te_params:
        groups.append({"params": list(te_params.values()), "lr": config.text_encoder_learning_rate})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup(config.warmup_steps))
    # DDP wraps what is trained: a text encoder without LoRA has no gradient to synchronise (and DDP refuses it)
    if te_params:
        unet, text_encoder, optimizer, lr_scheduler = accelerator.prepare(
            unet, text_encoder, optimizer, lr_scheduler
        )
    else:
        unet, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)

    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    objective = DefectFillObjective(
        vae=vae,
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        noise_scheduler=noise_scheduler,
        prompts=config.prompts(),
        token=config.token,
        weights=LossWeights(
            config.defect_loss_weight, config.object_loss_weight, config.attention_loss_weight
        ),
        object_alpha=config.object_alpha,
        boxes=BoxSpec(config.random_boxes, config.box_min_frac, config.box_max_frac),
    )

    # every process draws the same batch, M_rand, noise, t and dropout keys for the whole batch and computes
    # its rows (objective): the generators are the same in all processes, whatever their number
    generator = torch.Generator(accelerator.device).manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    state = TrainingState(0, {**unet_params, **te_params}, optimizer, lr_scheduler, rng, generator)
    if config.resume:
        found = list_checkpoints(run_dir)
        if found:
            load_checkpoint(found[-1], state)
            logger.info("resumed from %s (step %d)", found[-1], state.step)
        else:
            logger.warning("resume requested but %s has no checkpoint: starting at step 0", run_dir)
    loss_log = LossLog(run_dir, LOSS_COLUMNS, PLOTTED_LOSSES, "DefectFill training losses", state.step)
    return _Run(
        config,
        run_dir,
        accelerator,
        data,
        pairs,
        base,
        unet,
        text_encoder,
        optimizer,
        lr_scheduler,
        objective,
        state,
        loss_log,
        rows,
        started,
    )


def _step(
    run: _Run, trainable: list[torch.nn.Parameter], interrupt: dict[str, bool]
) -> tuple[dict[str, float], bool]:
    """One optimisation step, its log row, and (main process) its checkpoint / preview; returns the batch's
    losses (the processes' mean) and whether every process stops after it (Ctrl-C in any of them)."""
    config, accelerator, state = run.config, run.accelerator, run.state
    batch = run.pairs.draw(state.rng)
    with accelerator.autocast():
        losses = run.objective(batch, state.rng, state.generator, run.rows)
    batch_losses, stop = agree_on_step(
        accelerator, losses, interrupt["stop"]
    )  # read after the forward: Ctrl-C during it stops this step
    if not all(math.isfinite(v) for v in batch_losses.values()):
        run.objective.end_step()
        kept = list_checkpoints(run.run_dir)
        raise NonFiniteLossError(
            f"non-finite loss at step {state.step + 1} ({batch_losses}); stopping. Last good "
            f"checkpoint: {kept[-1] if kept else 'none'}. Lower the learning rate, or use bf16 / fp32."
        )
    accelerator.backward(losses.total)
    run.objective.end_step()
    if accelerator.sync_gradients:
        accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
    run.optimizer.step()
    run.lr_scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    state.step += 1
    run.loss_log.append(state.step, {**batch_losses, "lr": run.lr_scheduler.get_last_lr()[0]})
    done = state.step == config.steps
    if accelerator.is_main_process:
        checkpoint = stop or bool(config.checkpoint_every and state.step % config.checkpoint_every == 0)
        # the log is written with every checkpoint, so that a resumed run finds all its rows
        if done or checkpoint or state.step % config.log_every == 0:
            run.loss_log.write()
        if checkpoint:
            save_checkpoint(run.run_dir, state, config.keep_checkpoints)
        if config.preview_every and state.step % config.preview_every == 0 and not done:
            write_training_preview(
                run.base.pipe, run.data, config, run.run_dir / f"preview-step{state.step:06d}.png"
            )
    return batch_losses, stop


def _finish(run: _Run) -> Path:
    """The concept file, the final preview and manifest.json (main process); every process returns its path."""
    config, accelerator, run_dir, base = run.config, run.accelerator, run.run_dir, run.base
    unet_plain, te_plain = accelerator.unwrap_model(run.unet), accelerator.unwrap_model(run.text_encoder)
    concept_path = Path(config.concept_path)
    if accelerator.is_main_process:
        card = ConceptCard(
            object_name=config.object_name,
            defect_name=config.defect_name,
            base_model=base.ref,
            token=config.token,
            lora_rank=config.rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            resolution=config.resolution,
            training_config=config_to_dict(replace(config, resume=False)),
            package_version=__version__,
        )
        save_concept(
            concept_path,
            export_lora_tensors(
                unet_plain, te_plain, config.rank, config.lora_alpha, config.train_text_encoder
            ),
            card,
        )
        unet_plain.eval()
        te_plain.eval()
        preview = write_training_preview(base.pipe, run.data, config, run_dir / "preview.png")
        final = run.loss_log.last
        manifest = {
            "concept": str(concept_path.resolve()),
            "concept_id": card.concept_id,
            "base_model": config.base_model,
            "base_model_loaded": base.ref.source,
            "base_model_revision": base.ref.revision,
            "examples": [e.to_dict(relative_to=run_dir) for e in run.data.examples],
            "steps": config.steps,
            "final_losses": final,
            "seconds": round(time.time() - run.started, 2),
            "preview": preview.name if preview else None,
            "package_version": __version__,
        }
        write_text_atomic(run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str))
        logger.info("concept written to %s", concept_path)
    accelerator.wait_for_everyone()  # every process returns once the concept is written
    if not all(math.isfinite(r["total"]) for r in run.loss_log.rows):
        raise NonFiniteLossError("non-finite losses in the log")
    return concept_path
