"""``manifest.json`` of a finished stage: what was trained, on what data, how long, with which packages.

Written last (atomically), after the model folder, the picture and the final ``loss.csv`` / ``loss.png``,
so a stage folder with a manifest is a complete one. ``seconds`` is the wall time of the call that
finished the stage: a resumed run counts from its resume (``resumed_from_step`` says where that was).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from defect_core.atomic import write_text_atomic
from defect_train.base_model.stage_loop import StageProgress

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERSIONED_PACKAGES = ("torch", "diffusers", "transformers", "defect-train")


def package_versions(names: tuple[str, ...] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (``None`` when it is not installed)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def parameter_count(module: torch.nn.Module) -> int:
    """Number of scalar parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def finish_stage(
    progress: StageProgress,
    stage: str,
    model_dir: Path,
    parameters: dict[str, int],
    picture: Path,
    device: torch.device,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the final ``loss.csv`` / ``loss.png`` and then ``<run_dir>/manifest.json``; return its path.

    ``parameters`` counts the trained parameters per model; ``picture`` is the stage's image for a person;
    ``extra`` holds the stage's own entries (measurements, the inputs it used).
    """
    config = progress.config
    # also when a resumed run had no step left to run (interrupted at its last step)
    progress.log.write()
    final = progress.log.last
    manifest = {
        "stage": stage,
        "model_dir": str(Path(model_dir).resolve()),
        "steps": config.steps,
        "resumed_from_step": progress.first_step,
        "seconds": round(progress.seconds, 2),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "final_loss": final.get("loss"),
        "final_row": final,
        "parameters": parameters,
        "data": {
            "surfaces": list(config.surfaces),
            "held_out_fraction": config.held_out_fraction,
            "resolution": config.resolution,
            "crop_sides": [config.crop_min_side, config.crop_max_side],
        },
        "device": str(device),
        "versions": package_versions(),
        "files": {
            "config": "config.toml",
            "loss_log": progress.log.csv_path.name,
            "loss_plot": progress.log.png_path.name,
            "picture": Path(picture).name,
        },
        **(extra or {}),
    }
    path = write_text_atomic(progress.run_dir / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
    logger.info("%s stage finished: %s, %s, loss plot %s", stage, path, picture, progress.log.png_path)
    return path
