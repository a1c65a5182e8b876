"""The training loop: AdamW with cosine decay by default (or Adam at a constant rate, DIAG's;
:mod:`defect_inspect.training.optimizers`), mixed precision on a GPU, early stopping on the validation loss,
the best weights restored at the end, a callback per epoch (checkpoints, test metrics) and a progress bar."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader

from defect_core.errors import NonFiniteLossError
from defect_inspect.training.device import autocast, autocast_dtype
from defect_inspect.training.early_stopping import EarlyStopping
from defect_inspect.training.optimizers import create_optimizer, create_schedule

logger = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: mean training loss, validation loss (``None`` without a validation split), learning rate."""

    epoch: int
    train_loss: float
    val_loss: float | None
    learning_rate: float
    seconds: float


@dataclass
class FitResult:
    """The history, the epoch whose weights the model holds now, and whether early stopping ended the run."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float | None = None
    stopped_early: bool = False


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, loss_fn: LossFn, loader: DataLoader, device: torch.device, amp_dtype: torch.dtype | None
) -> float:
    """Mean loss over ``loader`` (weighted by batch size), in eval mode."""
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        batch = _to_device(batch, device)
        with autocast(device, amp_dtype):
            loss = loss_fn(model(batch["image"]), batch)
        size = batch["image"].shape[0]
        total += float(loss) * size
        count += size
    return total / max(count, 1)


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    *,
    device: torch.device,
    epochs: int,
    learning_rate: float,
    weight_decay: float,
    patience: int,
    mixed_precision: bool = True,
    on_epoch_end: Callable[[EpochRecord, bool], None] | None = None,
    progress: bool = True,
    optimizer: str = "adamw",
    lr_schedule: str = "cosine",
) -> FitResult:
    """Train ``model`` in place; with a validation loader, stop after ``patience`` epochs without a lower
    validation loss and leave the best epoch's weights in the model.

    ``loss_fn(outputs, batch)`` gets the model's outputs for ``batch["image"]`` and the whole batch.
    ``optimizer`` / ``lr_schedule`` name them (:mod:`defect_inspect.training.optimizers`).
    ``on_epoch_end(record, is_best)`` runs after every epoch (checkpoints, test metrics), with the model
    holding that epoch's weights, before any early-stopping restore. A non-finite training loss raises
    :class:`NonFiniteLossError` (the last good weights stay in the model).
    """
    from tqdm.auto import tqdm

    model.to(device)
    amp_dtype = autocast_dtype(device, mixed_precision)
    # float16 needs loss scaling to keep small gradients; bfloat16 has float32's range and does not
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    optim = create_optimizer(optimizer, model.parameters(), learning_rate, weight_decay)
    scheduler = create_schedule(lr_schedule, optim, epochs)
    stopper = EarlyStopping(patience)
    result = FitResult()
    best_state: dict[str, torch.Tensor] | None = None
    bar = tqdm(
        total=epochs * len(train_loader),
        unit="batch",
        desc="train",
        disable=not progress,
        dynamic_ncols=True,
        mininterval=1.0,
    )
    try:
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            model.train()
            total, count = 0.0, 0
            lr = optim.param_groups[0]["lr"]
            for batch in train_loader:
                batch = _to_device(batch, device)
                with autocast(device, amp_dtype):
                    loss = loss_fn(model(batch["image"]), batch)
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(f"epoch {epoch}: training loss is {float(loss.detach())}")
                optim.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optim)
                scaler.update()
                size = batch["image"].shape[0]
                total += float(loss.detach()) * size
                count += size
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{total / count:.4f}")
            scheduler.step()
            val_loss = evaluate_loss(model, loss_fn, val_loader, device, amp_dtype) if val_loader else None
            record = EpochRecord(epoch, total / max(count, 1), val_loss, lr, time.perf_counter() - started)
            result.history.append(record)
            # without validation data every epoch is "the best so far": the last weights are kept
            is_best = stopper.step(val_loss, epoch) if val_loss is not None else True
            if is_best:
                result.best_epoch, result.best_val_loss = epoch, val_loss
                if val_loader is not None:
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            logger.info(
                "epoch %d: train loss %.4f, val loss %s%s",
                epoch,
                record.train_loss,
                "n/a" if val_loss is None else f"{val_loss:.4f}",
                " (best)" if is_best else "",
            )
            if on_epoch_end is not None:
                on_epoch_end(record, is_best)
            if val_loader is not None and stopper.should_stop:
                result.stopped_early = epoch < epochs
                logger.info("early stopping after epoch %d: best epoch %d", epoch, stopper.best_epoch)
                break
    finally:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    if result.best_val_loss is not None and not math.isfinite(result.best_val_loss):
        result.best_val_loss = None
    return result
