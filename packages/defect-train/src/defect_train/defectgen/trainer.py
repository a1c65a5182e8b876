"""``train_defectgen(config) -> Path``: train Defect-Gen's two networks and write the generator folder.

The run folder receives ``config.toml`` (the resolved config), ``large/`` and ``small/`` (each network's
``loss.csv`` / ``loss.png`` and ``checkpoints/``), ``generator/`` (the generator folder of
:func:`defect_sample.defectgen.save_generator`, with the EMA weights), ``preview.png`` (training images and
generated ones, each beside its colour labels), ``manifest.json`` (what was trained on, timings, final
losses; written last) and ``train.log``. The large network trains first, then the small one; each resumes
from its own checkpoints with ``resume=True`` (a finished network is only reloaded).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.configs import config_to_dict, save_config
from defect_core.generator_card import GeneratorCard
from defect_core.preview import image_grid
from defect_sample.defectgen import (
    load_generator,
    make_scheduler,
    sample_defectgen,
    save_generator,
    to_samples,
)
from defect_sample.defectgen.preview import label_overlay
from defect_sample.devices import resolve_device
from defect_sample.job_plan import derive_seed
from defect_train import __version__
from defect_train.checkpoints import list_checkpoints
from defect_train.defectgen.config import DefectGenTrainConfig
from defect_train.defectgen.data import DefectGenData, encode_examples, resolve_defectgen_data
from defect_train.defectgen.network_training import NetworkStep, NetworkTraining, train_network
from defect_train.defectgen.networks import build_unet, unet_spec

logger = logging.getLogger(__name__)

ROLES = ("large", "small")
PREVIEW = "preview.png"
MANIFEST = "manifest.json"


def train_defectgen(
    config: DefectGenTrainConfig, *, on_step: Callable[[NetworkStep], None] | None = None
) -> Path:
    """Train both networks of ``config`` and return the generator folder (``<output_dir>/generator``).

    ``on_step`` is called after every optimisation step of either network (tests, progress reporting).
    Raises ``ValueError`` for bad data (unknown object or defect, a category without training images),
    ``NonFiniteLossError`` and ``TrainingInterrupted`` (Ctrl-C; a checkpoint is written first).
    """
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("defect_train").addHandler(handler)
    try:
        return _train(config, run_dir, on_step)
    finally:
        logging.getLogger("defect_train").removeHandler(handler)
        handler.close()


def _train(
    config: DefectGenTrainConfig, run_dir: Path, on_step: Callable[[NetworkStep], None] | None
) -> Path:
    started = time.time()
    data = resolve_defectgen_data(config)
    save_config(config, run_dir / "config.toml")
    if not config.resume:
        _clear_stale_checkpoints(run_dir)
    device = resolve_device(config.device)
    scheduler = make_scheduler(config.num_train_timesteps)
    trained: dict[str, NetworkTraining] = {}
    for role in ROLES:
        examples = data.large if role == "large" else data.small
        samples = encode_examples(examples, data.classes, config.resolution)
        # each network has its own seeds, so that changing one's settings leaves the other's run unchanged
        torch.manual_seed(derive_seed(config.seed, "defectgen-init", role))
        model = build_unet(unet_spec(config.size, role), data.num_channels, config.resolution).to(device)
        logger.info(
            "%s network: %.2f M parameters, %d training image(s)",
            role,
            sum(p.numel() for p in model.parameters()) / 1e6,
            len(examples),
        )
        trained[role] = train_network(
            role,
            model,
            samples,
            scheduler,
            config,
            derive_seed(config.seed, "defectgen-train", role),
            device,
            on_step,
        )
        # sampling uses the EMA weights; the network's own weights live on in its checkpoints
        trained[role].ema.copy_to(model)
        model.eval()
    card = GeneratorCard(
        object_name=config.object_name,
        classes=data.classes,
        resolution=config.resolution,
        switch_step=config.switch_step,
        num_train_timesteps=config.num_train_timesteps,
        size=config.size,
        training={
            "config": config_to_dict(dataclasses.replace(config, resume=False)),
            "data": _data_record(data),
            "steps": {role: t.state.step for role, t in trained.items()},
        },
        package_versions={"defect-train": __version__},
    )
    folder = _save(config, trained, card)
    preview = write_preview(folder, data, config, run_dir / PREVIEW, device)
    manifest = {
        "generator": str(folder.resolve()),
        "generator_id": card.generator_id,
        "classes": card.classes,
        "size": config.size,
        "resolution": config.resolution,
        "switch_step": config.switch_step,
        "data": _data_record(data),
        "networks": {
            role: {
                "steps": t.state.step,
                "resumed_from_step": t.first_step,
                "seconds": round(t.seconds, 2),
                "final_loss": t.final_loss,
                "parameters": sum(p.numel() for p in t.model.parameters()),
            }
            for role, t in trained.items()
        },
        "seconds": round(time.time() - started, 2),
        "device": str(device),
        "preview": preview.name if preview else None,
        "package_version": __version__,
    }
    write_text_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
    return folder


def _clear_stale_checkpoints(run_dir: Path) -> None:
    """A fresh run in a folder with an earlier run's checkpoints: remove them, or a later ``--resume`` (and the
    keep-newest rule) would mix the two runs."""
    for role in ROLES:
        old = list_checkpoints(run_dir / role)
        if old:
            logger.warning(
                "%s: removing %d checkpoint(s) of an earlier run (newest %s); pass --resume to continue one",
                run_dir / role,
                len(old),
                old[-1].name,
            )
            shutil.rmtree(old[-1].parent, ignore_errors=True)


def _data_record(data: DefectGenData) -> dict:
    def rel(path: Path) -> str:
        try:
            return str(Path(path).relative_to(data.root))
        except ValueError:
            return str(path)

    return {
        "root": str(data.root),
        "object_name": data.object_name,
        "categories": list(data.categories),
        "large": [rel(e.image) for e in data.large],
        "small": [rel(e.image) for e in data.small],
        "held_out": len(data.held_out),
    }


def _save(config: DefectGenTrainConfig, trained: dict[str, NetworkTraining], card: GeneratorCard) -> Path:
    large, small = trained["large"].model, trained["small"].model
    return save_generator(config.generator_dir, large, small, card)


@torch.no_grad()
def write_preview(
    folder: Path, data: DefectGenData, config: DefectGenTrainConfig, path: Path, device: torch.device
) -> Path | None:
    """``preview.png``: rows of training image | its labels | generated image | its labels. The generated
    items are sampled from the saved generator folder, so the picture also shows that the folder loads."""
    if config.preview_count == 0:
        return None
    generator = load_generator(folder, device)
    generated = sample_defectgen(
        generator,
        config.preview_count,
        seed=config.seed,
        batch_size=min(8, config.preview_count),
        steps=config.preview_steps or None,
    )
    # a training sample is already in the networks' range: to_samples reads it like a generated one
    real = to_samples(encode_examples(data.small[: config.preview_count], data.classes, config.resolution))
    blank = Image.new("RGB", (config.resolution, config.resolution), "white")
    rows = []
    for i, item in enumerate(generated):
        left = [real[i].image, label_overlay(real[i].image, real[i].labels)] if i < len(real) else [blank] * 2
        rows.append([*left, item.image, label_overlay(item.image, item.labels)])
    picture = image_grid(
        rows, cell=max(128, config.resolution), header=("training", "labels", "generated", "labels")
    )
    return save_image_atomic(picture, path)
