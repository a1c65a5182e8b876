"""``BaseModelError``: the base model cannot be used (its own module so that loaders and hub helpers share it)."""

from __future__ import annotations

from defect_core.errors import InputFileError


class BaseModelError(InputFileError):
    """The base model cannot be used (not found, not an inpainting model, unreadable)."""
