"""Resumable training checkpoints: LoRA weights, optimizer, LR schedule and every RNG state.

A checkpoint is a folder ``checkpoints/step-<k>/`` with ``lora.safetensors`` (the trainable tensors),
``state.pt`` (optimizer and scheduler state, torch RNG states; loaded with ``weights_only=True``, so
loading cannot run code) and ``state.json`` (the step and the numpy RNG state). It is written into a
temporary folder and renamed, so a crash never leaves a half checkpoint that resume would pick up.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CHECKPOINT_DIR = "checkpoints"


@dataclass
class TrainingState:
    """What must be restored for a resumed run to continue exactly as an uninterrupted one."""

    step: int
    trainable: dict[str, torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler
    rng: np.random.Generator
    generator: torch.Generator


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step-{step:06d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    folder = run_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step-*") if (p / "state.json").is_file())


def save_checkpoint(run_dir: Path, state: TrainingState, keep: int = 2) -> Path:
    """Write a checkpoint of ``state`` atomically, then delete all but the newest ``keep``."""
    final = checkpoint_path(run_dir, state.step)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in state.trainable.items()}, str(tmp / "lora.safetensors")
    )
    torch.save(
        {
            "optimizer": state.optimizer.state_dict(),
            "lr_scheduler": state.lr_scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "generator": state.generator.get_state(),
        },
        tmp / "state.pt",
    )
    (tmp / "state.json").write_text(
        json.dumps({"step": state.step, "numpy_rng": state.rng.bit_generator.state})
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: Path, state: TrainingState) -> int:
    """Restore ``state`` in place from a checkpoint folder; return the step it was written at."""
    tensors = load_file(str(folder / "lora.safetensors"))
    missing = sorted(set(state.trainable) - set(tensors))
    if missing:
        raise ValueError(
            f"{folder}: checkpoint lacks {len(missing)} LoRA tensor(s), e.g. {missing[0]}; "
            "was it written with another rank, target list or base model?"
        )
    with torch.no_grad():
        for name, param in state.trainable.items():
            param.copy_(tensors[name].to(param.device, param.dtype))
    blob = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    state.optimizer.load_state_dict(blob["optimizer"])
    state.lr_scheduler.load_state_dict(blob["lr_scheduler"])
    torch.set_rng_state(blob["torch_rng"])
    if blob["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["cuda_rng"])
    state.generator.set_state(blob["generator"])
    meta = json.loads((folder / "state.json").read_text())
    state.rng.bit_generator.state = meta["numpy_rng"]
    state.step = int(meta["step"])
    return state.step
