"""Writes that never leave a half-written file under the final name.

Every writer first writes ``<name>.tmp-<pid>`` in the same folder and then renames it, which is atomic on
POSIX and Windows file systems; a crash leaves at most a stray temporary file, never a torn output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from PIL import Image

_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>[0-9]+)")


def temp_path_for(path: str | Path, pid: int | None = None) -> Path:
    """The temporary file that an atomic write of ``path`` goes through: ``<folder>/.<name>.tmp-<pid>``
    (``pid``: this process's by default)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid() if pid is None else pid}")


def temp_target(path: str | Path) -> Path | None:
    """The file that the temporary file ``path`` was to become, or ``None`` when ``path`` does not have the
    name :func:`temp_path_for` gives (so that cleaning up never touches anything else)."""
    path = Path(path)
    match = _TEMP_NAME.fullmatch(path.name)
    return path.with_name(match["name"]) if match else None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsynced before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_with_atomic(path: str | Path, writer: Callable[[IO[bytes]], object]) -> Path:
    """Call ``writer(file_object)`` on a temporary file and rename it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def save_image_atomic(image: Image.Image, path: str | Path, format: str = "PNG") -> Path:
    """Save a PIL image atomically (PNG by default, whatever the suffix of the temporary name)."""
    return write_with_atomic(path, lambda fh: image.save(fh, format=format))
