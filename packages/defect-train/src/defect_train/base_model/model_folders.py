"""Writing diffusers / transformers model folders atomically: into a temporary folder, then renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_folder_atomic(folder: Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp)`` on a fresh temporary folder beside ``folder``, then replace ``folder`` by it.

    A crash leaves the previous ``folder`` (or none) and at most a stray ``.<name>-*`` folder, never a
    half-written model that a loader would pick up.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        writer(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def save_pretrained_atomic(model, folder: Path) -> Path:
    """``model.save_pretrained(folder)`` (safetensors), written atomically."""
    return write_folder_atomic(folder, lambda tmp: model.save_pretrained(tmp, safe_serialization=True))
