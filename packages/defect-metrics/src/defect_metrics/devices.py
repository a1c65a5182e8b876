"""The device picker of defect-metrics, which defect-inspect uses too (one reading of ``--device`` for both)."""

from __future__ import annotations

import torch

from defect_core.devices import choose_device


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` / ``None`` → CUDA if a GPU is visible, else the CPU; any other name as torch reads it. Asking
    for CUDA without a visible GPU is a ``ValueError`` (:func:`defect_core.devices.choose_device`)."""
    if isinstance(device, torch.device):
        device = str(device)
    return torch.device(choose_device(device, cuda_available=torch.cuda.is_available()))
