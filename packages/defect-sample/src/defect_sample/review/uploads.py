"""Uploaded files: checked against a size limit, decoded fully, and only then used.

An upload that is too large, not an image, or larger than the side limit raises :class:`InputFileError`
naming the uploaded file; nothing has been written at that point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from defect_core.errors import InputFileError
from defect_core.images import open_image

MIB = 1024 * 1024


def size_text(n_bytes: int) -> str:
    """``16 MiB``, ``20.5 KiB``: a byte count as people read it."""
    value, unit = (n_bytes / MIB, "MiB") if n_bytes >= MIB else (n_bytes / 1024, "KiB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


@dataclass(frozen=True)
class UploadLimits:
    """The largest upload accepted: ``max_bytes`` per file and ``max_side`` pixels per side."""

    max_bytes: int = 16 * MIB
    max_side: int = 4096

    def describe(self) -> str:
        """The limits in words, as the page states them."""
        return f"images up to {size_text(self.max_bytes)} and {self.max_side} px a side"


def read_upload(path: str | Path, limits: UploadLimits, name: str | None = None) -> Image.Image:
    """The fully decoded image of an uploaded file.

    ``name`` is what the user called the file (default: its name on disk), used in messages. The size
    limits are checked on the file and on the header before any pixel is decoded, so a decompression bomb
    is refused unopened.
    """
    path = Path(path)
    label = Path(name or path.name)
    if not path.is_file():
        raise InputFileError(label, "upload did not arrive (no file)")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InputFileError(label, f"is {size_text(size)}; uploads are limited to {limits.describe()}")
    try:
        with Image.open(path) as header:
            width, height = header.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputFileError(label, f"cannot be read as an image ({exc.__class__.__name__})") from exc
    if max(width, height) > limits.max_side:
        raise InputFileError(label, f"is {width}x{height} px; uploads are limited to {limits.describe()}")
    try:
        return open_image(path)
    except InputFileError as exc:
        raise InputFileError(label, exc.problem) from exc
