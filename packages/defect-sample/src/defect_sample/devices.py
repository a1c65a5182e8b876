"""The device picker of defect-sample, which defect-train uses too (one reading of ``--device`` for both)."""

from __future__ import annotations

import os

import torch

from defect_core.devices import choose_device


def resolve_device(
    device: str | torch.device | None = "auto", *, local_rank: int | None = None
) -> torch.device:
    """``"auto"`` / ``None`` → the CUDA device if a GPU is visible (``cuda:<local_rank>`` when given), else the
    CPU; any other name as torch reads it. Asking for CUDA without a visible GPU is a ``ValueError``
    (:func:`defect_core.devices.choose_device`)."""
    if isinstance(device, torch.device):
        device = str(device)
    return torch.device(
        choose_device(device, cuda_available=torch.cuda.is_available(), local_rank=local_rank)
    )


def process_device(device: str | torch.device | None = "auto") -> torch.device:
    """:func:`resolve_device` for this process of a multi-process launch (``torchrun`` / ``accelerate launch``
    set ``WORLD_SIZE`` and ``LOCAL_RANK``): ``auto`` gives every process its own GPU, ``cuda:$LOCAL_RANK``."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0) if world > 1 else None
    return resolve_device(device, local_rank=local_rank)
