"""What the two training stages share: the optimiser with warm-up, resume, and :class:`StageProgress`, the
step bookkeeping (progress bar, ``loss.csv`` / ``loss.png``, checkpoints, Ctrl-C), and the result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from defect_core.errors import NonFiniteLossError
from defect_train.base_model.config import UnetStageConfig, VaeStageConfig
from defect_train.checkpoints import (
    CHECKPOINT_DIR,
    TrainingState,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from defect_train.interrupt import TrainingInterrupted, interrupt_flag
from defect_train.loss_log import LossLog

logger = logging.getLogger(__name__)


@dataclass
class StageResult:
    """Where a stage wrote its model, and the loss of every step run in this call (not resumed ones)."""

    model_dir: Path
    losses: list[float] = field(default_factory=list)


def warmup_factor(warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor of step k: linear from 1 / (warmup + 1) up to 1, then constant."""
    return lambda k: 1.0 if warmup_steps == 0 else min(1.0, (k + 1) / (warmup_steps + 1))


def new_state(
    tensors: dict[str, torch.Tensor],
    params: list[torch.nn.Parameter],
    learning_rate: float,
    weight_decay: float,
    warmup_steps: int,
    seed: int,
) -> TrainingState:
    """AdamW over ``params`` with linear warm-up, and the seeded numpy / torch generators of a stage.

    ``tensors`` is everything a checkpoint must hold (parameters and EMA shadows, by unique names); the
    checkpoint files are those of :mod:`defect_train.checkpoints` (its ``lora.safetensors`` then holds
    full weights).
    """
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(warmup_steps))
    return TrainingState(
        0,
        tensors,
        optimizer,
        lr_scheduler,
        np.random.default_rng(seed),
        torch.Generator("cpu").manual_seed(seed),
    )


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


def optimiser_step(
    state: TrainingState,
    loss: torch.Tensor,
    params: list[torch.nn.Parameter],
    max_grad_norm: float,
    run_dir: Path,
) -> float:
    """Backward, clip, step the optimiser and the LR schedule; return the loss as a float."""
    value = float(loss.detach())
    if not np.isfinite(value):
        kept = list_checkpoints(run_dir)
        raise NonFiniteLossError(
            f"non-finite loss {value} at step {state.step + 1}; last good checkpoint: "
            f"{kept[-1] if kept else 'none'}. Lower the learning rate."
        )
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    state.optimizer.step()
    state.lr_scheduler.step()
    return value


class StageProgress:
    """The step loop of one stage call, as a context manager; call :meth:`step_done` after each optimiser step.

    Shows a progress bar; keeps ``loss.csv`` with one row per step, columns ``step, loss, <parts>, lr``
    (``lr``: the learning rate the step used), rewritten every ``config.log_every`` steps and with every
    checkpoint, so that a resumed run continues it without gaps or duplicates; writes a checkpoint every
    ``config.checkpoint_every`` steps and at the last step. The first Ctrl-C finishes the running step,
    writes a checkpoint and raises :class:`~defect_train.interrupt.TrainingInterrupted` with the command
    that resumes; a second one aborts at once. An error (a non-finite loss) still writes the rows so far.
    """

    def __init__(
        self,
        command: str,
        run_dir: Path,
        state: TrainingState,
        config: VaeStageConfig | UnetStageConfig,
        parts: Sequence[str],
        plotted: Sequence[str],
    ) -> None:
        self.command = command
        self.run_dir = Path(run_dir)
        self.state = state
        self.config = config
        self.parts = tuple(parts)
        self.first_step = state.step
        self.losses: list[float] = []
        self.log = LossLog(
            self.run_dir, ("loss", *self.parts, "lr"), plotted, f"{command} losses", state.step
        )
        self.started = time.time()
        self._stack = ExitStack()

    def __enter__(self) -> StageProgress:
        self._lr = self.state.lr_scheduler.get_last_lr()[0]
        self._interrupt = self._stack.enter_context(interrupt_flag())
        self._bar = self._stack.enter_context(
            tqdm(total=self.config.steps, initial=self.state.step, desc=self.command, unit="step")
        )
        return self

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        if exc_type is not None and issubclass(exc_type, Exception):
            try:
                self.log.write()
            except Exception:  # the original error matters more than the log
                logger.exception("could not write %s", self.log.csv_path)
        return self._stack.__exit__(exc_type, exc, tb)

    def step_done(self, loss: float, parts: Mapping[str, float]) -> None:
        """Count the step just optimised (``state.step += 1``) with its ``loss`` and ``parts`` (one value per
        name given at construction), then log, checkpoint or stop as due."""
        state, config = self.state, self.config
        state.step += 1
        self.losses.append(loss)
        row = self.log.append(state.step, {"loss": loss, **parts, "lr": self._lr})
        self._lr = state.lr_scheduler.get_last_lr()[0]
        self._bar.update(1)
        self._bar.set_postfix({name: f"{row[name]:.4f}" for name in ("loss", *self.parts)})
        if state.step % config.log_every == 0:
            logger.info(
                "step %d/%d: %s",
                state.step,
                config.steps,
                ", ".join(f"{k} {v:.5g}" for k, v in row.items() if k != "step"),
            )
        stop = self._interrupt["stop"]
        checkpoint = (
            stop
            or state.step == config.steps
            or bool(config.checkpoint_every and state.step % config.checkpoint_every == 0)
        )
        if checkpoint or state.step % config.log_every == 0:
            self.log.write()
        if checkpoint:
            save_checkpoint(self.run_dir, state, config.keep_checkpoints)
        if stop:
            raise TrainingInterrupted(
                f"{self.command} interrupted at step {state.step}; checkpoint written in "
                f"{self.run_dir / CHECKPOINT_DIR}. Continue with: python -m defect_train.base_model "
                f"{self.command} --config {self.run_dir / 'config.toml'} --resume"
            )

    @property
    def seconds(self) -> float:
        """Wall time since this object was made, before the first step (a resumed run counts from its resume)."""
        return time.time() - self.started
