"""What the two training stages share: the optimiser with warm-up, resume, checkpoints, the result."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from defect_train.checkpoints import TrainingState, list_checkpoints, load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)


@dataclass
class StageResult:
    """Where a stage wrote its model, and the loss of every step run in this call (not resumed ones)."""

    model_dir: Path
    losses: list[float] = field(default_factory=list)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last checkpoint is kept."""


def warmup_factor(warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor of step k: linear from 1 / (warmup + 1) up to 1, then constant."""
    return lambda k: 1.0 if warmup_steps == 0 else min(1.0, (k + 1) / (warmup_steps + 1))


def new_state(tensors: dict[str, torch.Tensor], params: list[torch.nn.Parameter], learning_rate: float,
              weight_decay: float, warmup_steps: int, seed: int) -> TrainingState:
    """AdamW over ``params`` with linear warm-up, and the seeded numpy / torch generators of a stage.

    ``tensors`` is everything a checkpoint must hold (parameters and EMA shadows, by unique names); the
    checkpoint files are those of :mod:`defect_train.checkpoints` (its ``lora.safetensors`` then holds
    full weights).
    """
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(warmup_steps))
    return TrainingState(0, tensors, optimizer, lr_scheduler, np.random.default_rng(seed),
                         torch.Generator("cpu").manual_seed(seed))


def maybe_resume(run_dir: Path, state: TrainingState, resume: bool) -> None:
    """Restore ``state`` from the newest checkpoint of ``run_dir`` when ``resume`` is set."""
    if not resume:
        return
    found = list_checkpoints(run_dir)
    if not found:
        logger.warning("resume requested but %s has no checkpoint: starting at step 0", run_dir)
        return
    load_checkpoint(found[-1], state)
    logger.info("resumed from %s (step %d)", found[-1], state.step)


def optimiser_step(state: TrainingState, loss: torch.Tensor, params: list[torch.nn.Parameter],
                   max_grad_norm: float, run_dir: Path) -> float:
    """Backward, clip, step the optimiser and the LR schedule; return the loss as a float."""
    value = float(loss.detach())
    if not np.isfinite(value):
        kept = list_checkpoints(run_dir)
        raise NonFiniteLossError(f"non-finite loss {value} at step {state.step + 1}; last good checkpoint: "
                                 f"{kept[-1] if kept else 'none'}. Lower the learning rate.")
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    state.optimizer.step()
    state.lr_scheduler.step()
    return value


def after_step(run_dir: Path, state: TrainingState, total_steps: int, checkpoint_every: int, keep: int) -> None:
    """Write a checkpoint every ``checkpoint_every`` steps and at the last step (so a run can be extended)."""
    if state.step == total_steps or (checkpoint_every and state.step % checkpoint_every == 0):
        save_checkpoint(run_dir, state, keep)
