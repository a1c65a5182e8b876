"""The processes of a multi-process run (``torchrun`` / ``accelerate launch``): how the batch is split
between them and how they agree, once per step, on the losses and on stopping.

``batch_size`` is the global batch: N processes each take B / N consecutive samples of the step's batch
(every process draws the same batch from the same seeded generators and keeps its rows), so a run on N
processes computes what a run on one does (see :class:`defect_train.objective.DefectFillObjective`).
"""

from __future__ import annotations

import math

import torch

from defect_train.objective import StepLosses

LOSS_TERMS = ("total", "defect", "object", "attention")


def batch_rows(batch_size: int, process_index: int, num_processes: int) -> slice:
    """The rows of the global batch that process ``process_index`` of ``num_processes`` computes.

    Raises ``ValueError`` when the batch does not split into equal shares: DDP averages the processes'
    gradients, which equals the gradient of the whole batch's mean loss only for equal shares.
    """
    if batch_size % num_processes:
        raise ValueError(
            f"--batch-size {batch_size} is the global batch and must split evenly over the "
            f"{num_processes} processes of this launch: use a multiple of {num_processes} (e.g. "
            f"{math.ceil(batch_size / num_processes) * num_processes}), or a number of processes "
            f"that divides {batch_size}"
        )
    share = batch_size // num_processes
    return slice(process_index * share, (process_index + 1) * share)


def agree_on_step(accelerator, losses: StepLosses, stop: bool) -> tuple[dict[str, float], bool]:
    """The batch's losses (the mean of the processes' values, each a mean over equal shares) and whether any
    process asked to stop (Ctrl-C), from one all-reduce; without a process group, the process's own values.

    All processes then take the same decision, so none waits forever in a collective that another left: a
    non-finite loss in one process stops all of them, and so does Ctrl-C that reached one process first.
    """
    values = torch.stack(
        [getattr(losses, k).detach().float() for k in LOSS_TERMS]
        + [torch.tensor(float(stop), device=losses.total.device)]
    )
    if accelerator.num_processes > 1:
        values = accelerator.reduce(values, reduction="sum")
        values[: len(LOSS_TERMS)] /= accelerator.num_processes
    floats = values.tolist()
    return dict(zip(LOSS_TERMS, floats[: len(LOSS_TERMS)], strict=True)), floats[-1] > 0
