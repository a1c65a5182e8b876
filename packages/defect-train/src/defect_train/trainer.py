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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from defect_core.atomic import write_text_atomic
from defect_core.concept_card import BaseModelRef, ConceptCard
from defect_core.concept_file import save_concept
from defect_core.configs import config_to_dict, save_config
from defect_core.datasets import create_reader
from defect_core.example import DefectExample
from defect_core.splits import select_split
from defect_sample.model_loading import load_inpaint_pipeline, model_fingerprint
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

logger = logging.getLogger(__name__)
LOSS_COLUMNS = ("total", "defect", "object", "attention", "lr")
PLOTTED_LOSSES = ("total", "defect", "object", "attention")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainingData:
    """The examples to learn from, and what the preview uses: good images and held-out masks."""

    examples: list[DefectExample]
    held_out: list[DefectExample]
    normals: list[Path]
    root: Path


def resolve_training_data(config: TrainConfig) -> TrainingData:
    """Read the dataset through a defect-core reader; unknown names raise ``ValueError`` listing the choices."""
    if config.dataset == "demo":
        from defect_core.demo import ensure_demo_dataset

        root, kind, kwargs = ensure_demo_dataset(), "mvtec", {}
    else:
        root, kind = Path(config.root), config.dataset
        kwargs = ({"object_name": config.object_name, "defect_name": config.defect_name}
                  if kind == "folder" else {})
    reader = create_reader(kind, root, **kwargs)
    all_examples = reader.defect_examples(config.object_name, config.defect_name)
    examples = select_split(all_examples, config.split)
    held_out = select_split(all_examples, "held_out") or all_examples
    normals = reader.normal_images(config.object_name, "train")
    return TrainingData(examples, held_out, normals, root)


def _device(config: TrainConfig) -> str:
    if config.device != "auto":
        return config.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _warmup(warmup_steps: int):
    # linear warm-up reaching the full rate at step `warmup_steps`, constant after (RealFill's schedule)
    return lambda step: min(1.0, (step + 1) / max(1, warmup_steps))


def train_concept(config: TrainConfig) -> Path:
    """Learn the concept of ``config.object_name`` / ``config.defect_name``; return the concept file path."""
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_handler = logging.FileHandler(run_dir / "train.log")
    log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("defect_train").addHandler(log_handler)
    try:
        return _train(config, run_dir)
    finally:
        logging.getLogger("defect_train").removeHandler(log_handler)
        log_handler.close()


def _train(config: TrainConfig, run_dir: Path) -> Path:
    from accelerate import Accelerator
    from diffusers import DDPMScheduler

    started = time.time()
    data = resolve_training_data(config)
    pairs = DefectPairs(data.examples, config.resolution, config.batch_size, config.min_resize, config.max_resize)
    logger.info("learning %s/%s from %d example(s) at %d px", config.object_name, config.defect_name,
                len(pairs), config.resolution)
    save_config(config, run_dir / "config.toml")

    device = _device(config)
    from accelerate.state import AcceleratorState

    # accelerate keeps one process-wide state; a second run in the same process (a notebook, the
    # experiment command) with another precision would be refused. The distributed part (PartialState)
    # is kept; only the precision settings are dropped.
    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != config.mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=device == "cpu")
    weight_dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[config.mixed_precision]
    pipe = load_inpaint_pipeline(config.base_model, dtype=weight_dtype, device=accelerator.device)
    vae, unet, text_encoder, tokenizer = pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer
    vae.requires_grad_(False)
    torch.manual_seed(config.seed)  # LoRA initialisation
    add_paper_lora(unet, text_encoder, config.rank, config.lora_alpha, config.lora_dropout, config.train_text_encoder)
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
    unet, text_encoder, optimizer, lr_scheduler = accelerator.prepare(unet, text_encoder, optimizer, lr_scheduler)

    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    objective = DefectFillObjective(
        vae=vae, unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, noise_scheduler=noise_scheduler,
        prompts=config.prompts(), token=config.token,
        weights=LossWeights(config.defect_loss_weight, config.object_loss_weight, config.attention_loss_weight),
        object_alpha=config.object_alpha, boxes=BoxSpec(config.random_boxes, config.box_min_frac, config.box_max_frac))

    # each process of a multi-GPU run draws its own batches and noise; gradients are averaged by DDP
    rank = accelerator.process_index
    generator = torch.Generator(accelerator.device).manual_seed(config.seed + 7919 * rank)
    torch.manual_seed(config.seed + 1 + 7919 * rank)  # LoRA dropout draws from the global generator
    rng = np.random.default_rng(config.seed if rank == 0 else [config.seed, rank])
    state = TrainingState(0, {**unet_params, **te_params}, optimizer, lr_scheduler, rng, generator)
    if config.resume:
        found = list_checkpoints(run_dir)
        if found:
            load_checkpoint(found[-1], state)
            logger.info("resumed from %s (step %d)", found[-1], state.step)
        else:
            logger.warning("resume requested but %s has no checkpoint: starting at step 0", run_dir)
    loss_log = LossLog(run_dir, LOSS_COLUMNS, PLOTTED_LOSSES, "DefectFill training losses", state.step)

    trainable = list(state.trainable.values())
    with interrupt_flag() as interrupt, tqdm(total=config.steps, initial=state.step, desc="defect-train",
                                             unit="step", disable=not accelerator.is_local_main_process) as bar:
        while state.step < config.steps:
            batch = pairs.draw(state.rng)
            with accelerator.autocast():
                losses = objective(batch, state.rng, state.generator)
            if not torch.isfinite(losses.total):
                objective.end_step()
                kept = list_checkpoints(run_dir)
                raise NonFiniteLossError(
                    f"non-finite loss at step {state.step + 1} ({losses.as_floats()}); stopping. Last good "
                    f"checkpoint: {kept[-1] if kept else 'none'}. Lower the learning rate, or use bf16 / fp32.")
            accelerator.backward(losses.total)
            objective.end_step()
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            row = loss_log.append(state.step, {**losses.as_floats(), "lr": lr_scheduler.get_last_lr()[0]})
            bar.update(1)
            bar.set_postfix(loss=f"{row['total']:.4f}", l_def=f"{row['defect']:.4f}")
            done = state.step == config.steps
            if accelerator.is_main_process:
                checkpoint = interrupt["stop"] or bool(config.checkpoint_every
                                                       and state.step % config.checkpoint_every == 0)
                # the log is written with every checkpoint, so that a resumed run finds all its rows
                if done or checkpoint or state.step % config.log_every == 0:
                    loss_log.write()
                if checkpoint:
                    save_checkpoint(run_dir, state, config.keep_checkpoints)
                if config.preview_every and state.step % config.preview_every == 0 and not done:
                    write_training_preview(pipe, data, config, run_dir / f"preview-step{state.step:06d}.png")
            if interrupt["stop"]:
                raise TrainingInterrupted(f"interrupted at step {state.step}; checkpoint written in "
                                          f"{run_dir / 'checkpoints'}; continue with --resume")

    unet_plain, te_plain = accelerator.unwrap_model(unet), accelerator.unwrap_model(text_encoder)
    concept_path = Path(config.concept_path)
    if accelerator.is_main_process:
        card = ConceptCard(
            object_name=config.object_name, defect_name=config.defect_name,
            base_model=BaseModelRef(config.base_model, model_fingerprint(unet_plain.config, te_plain.config)),
            token=config.token, lora_rank=config.rank, lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout, resolution=config.resolution,
            training_config=config_to_dict(replace(config, resume=False)), package_version=__version__)
        save_concept(concept_path, export_lora_tensors(unet_plain, te_plain, config.rank, config.lora_alpha,
                                                       config.train_text_encoder), card)
        unet_plain.eval()
        te_plain.eval()
        preview = write_training_preview(pipe, data, config, run_dir / "preview.png")
        final = loss_log.last
        manifest = {
            "concept": str(concept_path.resolve()), "concept_id": card.concept_id, "base_model": config.base_model,
            "examples": [e.to_dict(relative_to=run_dir) for e in data.examples],
            "steps": config.steps, "final_losses": final, "seconds": round(time.time() - started, 2),
            "preview": preview.name if preview else None, "package_version": __version__,
        }
        write_text_atomic(run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str))
        logger.info("concept written to %s", concept_path)
    if not all(math.isfinite(r["total"]) for r in loss_log.rows):
        raise NonFiniteLossError("non-finite losses in the log")
    return concept_path
