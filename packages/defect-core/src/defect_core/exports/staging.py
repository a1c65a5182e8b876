"""An export folder that appears whole or not at all.

Everything is written into a staging folder beside the destination (``.<name>.tmp-<pid>``, the name
:func:`defect_core.atomic.temp_path_for` gives) and renamed into place at the end; on any error the staging
folder is removed and the destination is untouched. Replacing an existing destination (``overwrite``) moves
it aside first and deletes it only once the new folder is in place.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from defect_core.atomic import temp_path_for
from defect_core.errors import InputFileError


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@contextmanager
def staged_folder(out: str | Path, *, overwrite: bool = False, protect: Path | None = None) -> Iterator[Path]:
    """Yield an empty staging folder that becomes ``out`` when the block ends without error.

    Raises :class:`InputFileError` when ``out`` is a file, a non-empty folder (unless ``overwrite``), or
    would hold or replace ``protect`` (the source being exported).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "exists and is not a folder")
    if protect is not None and _inside(Path(protect).resolve(), out.resolve()):
        raise InputFileError(out, f"would replace or hold the source {protect}: choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputFileError(
            out, "exists and is not empty: choose another output folder or replace it (--overwrite)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_path_for(out)
    shutil.rmtree(staging, ignore_errors=True)  # left by an earlier process with our pid
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        aside = out.with_name(f".{out.name}.old-{os.getpid()}")
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(out, aside)
        os.replace(staging, out)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staging, out)
