"""Training one Defect-Gen network: the x0 objective, AdamW, EMA, checkpoints, progress, Ctrl-C.

Each network trains in its own folder (``<run>/large/``, ``<run>/small/``) with ``loss.csv`` / ``loss.png`` and
``checkpoints/``. A checkpoint (:mod:`defect_train.checkpoints`, written atomically) holds the weights, the
EMA weights, the optimizer, the numpy and torch generators and the step, so a resumed run continues bitwise
as an uninterrupted one: every random draw (the batch, t, ε) comes from the checkpointed generators, drawn
on the CPU. The first Ctrl-C finishes the running step, writes a checkpoint and raises
:class:`~defect_train.interrupt.TrainingInterrupted`; a second one aborts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from defect_core.errors import InputFileError
from defect_train.base_model.ema import EmaWeights
from defect_train.base_model.stage_loop import maybe_resume, new_state, optimiser_step
from defect_train.checkpoints import CHECKPOINT_DIR, TrainingState, save_checkpoint
from defect_train.defectgen.config import DefectGenTrainConfig
from defect_train.defectgen.loss import draw_timesteps_and_noise, x0_loss
from defect_train.interrupt import TrainingInterrupted, interrupt_flag
from defect_train.loss_log import LossLog

logger = logging.getLogger(__name__)

LOSS_COLUMNS = ("loss", "lr")
NO_CLIPPING = math.inf  # the authors' optimiser does not clip gradients; clip_grad_norm_ with inf leaves them


@dataclass
class NetworkTraining:
    """What training one network left: the model (its own weights, train mode), the EMA shadow, the state
    (step, optimizer, generators), the losses of the steps run in this call, its wall time and the last loss."""

    role: str
    model: torch.nn.Module
    ema: EmaWeights
    state: TrainingState
    first_step: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    final_loss: float | None = None
    """The loss of the last step, also when this call resumed a finished network and ran none."""


@dataclass(frozen=True)
class NetworkStep:
    """What ``on_step`` receives after each optimisation step."""

    role: str
    step: int
    loss: float
    model: torch.nn.Module
    ema: EmaWeights


def draw_batch(state: TrainingState, samples: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``batch_size`` samples drawn by ``state.rng`` (without replacement when there are enough)."""
    count = samples.shape[0]
    index = state.rng.choice(count, size=batch_size, replace=count < batch_size)
    return samples[torch.from_numpy(index)]


def resume_command(config: DefectGenTrainConfig) -> str:
    return f"defect-train defectgen --config {config.output_dir / 'config.toml'} --resume"


def train_network(
    role: str,
    model: torch.nn.Module,
    samples: torch.Tensor,
    scheduler,
    config: DefectGenTrainConfig,
    seed: int,
    device: torch.device,
    on_step: Callable[[NetworkStep], None] | None = None,
) -> NetworkTraining:
    """Train ``model`` (already on ``device``) on ``samples`` (N, C, R, R) for ``config.steps`` steps in
    ``<output_dir>/<role>/``, resuming from its newest checkpoint when ``config.resume``.

    ``seed`` seeds the batch order, t and ε of this network. Returns a :class:`NetworkTraining`; the EMA
    weights are not yet copied into the model. Raises ``NonFiniteLossError`` for a NaN / inf loss and
    ``TrainingInterrupted`` after a Ctrl-C (a checkpoint is written first).
    """
    run_dir = Path(config.output_dir) / role
    run_dir.mkdir(parents=True, exist_ok=True)
    model.train()
    ema = EmaWeights(model, config.ema_decay)
    params = {f"model.{n}": p for n, p in model.named_parameters()}
    state = new_state(
        {**params, **{f"ema.{n}": t for n, t in ema.shadow.items()}},
        list(params.values()),
        config.learning_rate,
        config.weight_decay,
        0,  # constant learning rate, as the authors train
        seed,
    )
    try:
        maybe_resume(run_dir, state, config.resume)
    except (ValueError, RuntimeError, KeyError) as exc:  # missing tensors, other shapes
        raise InputFileError(
            run_dir / CHECKPOINT_DIR,
            f"the newest checkpoint does not fit the {role} network of this config ({exc}); was it written "
            "with another --size or other defect classes? Resume with the run's own config.toml, or start "
            "a fresh run without --resume",
        ) from exc
    result = NetworkTraining(role, model, ema, state, state.step)
    log = LossLog(run_dir, LOSS_COLUMNS, ("loss",), f"Defect-Gen {role} network: x0 MSE", state.step)
    trainable = list(params.values())
    samples = samples.to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.mixed_precision == "bf16")
    started = time.time()
    with (
        interrupt_flag() as interrupt,
        tqdm(total=config.steps, initial=state.step, desc=f"defectgen {role}", unit="step") as bar,
    ):
        while state.step < config.steps:
            x0 = draw_batch(state, samples, config.batch_size)
            timesteps, noise = draw_timesteps_and_noise(x0, config.num_train_timesteps, state.generator)
            with autocast:
                loss = x0_loss(model, scheduler, x0, noise, timesteps)
            try:
                value = optimiser_step(state, loss, trainable, NO_CLIPPING, run_dir)
            except Exception:
                log.write()
                raise
            ema.update(model, state.step)
            state.step += 1
            result.losses.append(value)
            log.append(state.step, {"loss": value, "lr": config.learning_rate})
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}")
            if on_step is not None:
                on_step(NetworkStep(role, state.step, value, model, ema))
            stop = interrupt["stop"]
            checkpoint = (
                stop
                or state.step == config.steps
                or bool(config.checkpoint_every and state.step % config.checkpoint_every == 0)
            )
            # the log is written with every checkpoint, so that a resumed run finds all its rows
            if checkpoint or state.step % config.log_every == 0:
                log.write()
            if checkpoint:
                save_checkpoint(run_dir, state, config.keep_checkpoints)
            if stop:
                raise TrainingInterrupted(
                    f"interrupted at step {state.step} of the {role} network; checkpoint written in "
                    f"{run_dir / CHECKPOINT_DIR}. Continue with: {resume_command(config)}"
                )
    log.write()
    result.seconds = time.time() - started
    result.final_loss = log.last.get("loss")
    return result
