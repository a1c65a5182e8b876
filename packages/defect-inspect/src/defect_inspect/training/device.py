"""Mixed-precision choice (the device itself comes from defect-metrics' picker, :func:`defect_metrics.resolve_device`)."""

from __future__ import annotations

import contextlib

import torch


def autocast_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """The autocast dtype for ``device``: bfloat16 where the GPU has it, else float16; ``None`` (full
    precision) on the CPU or when ``enabled`` is False."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` to ``dtype`` on ``device``, or a no-op context when ``dtype`` is ``None``."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
