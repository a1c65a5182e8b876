"""Built-in datasets written once into the cache folder, atomically, and reused afterwards."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

COMPLETE_MARKER = "dataset.json"


def default_cache_dir() -> Path:
    """``$DEFECTFILL_CACHE``, else ``$XDG_CACHE_HOME/defectfill``, else ``~/.cache/defectfill``."""
    env = os.environ.get("DEFECTFILL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "defectfill"


def ensure_written(folder: str, write: Callable[[Path], object], cache_dir: str | Path | None = None) -> Path:
    """``<cache_dir>/<folder>``, written by ``write(empty_folder)`` on first use and reused afterwards.

    ``cache_dir`` defaults to :func:`default_cache_dir`. ``write`` must leave ``dataset.json`` in the
    folder. It writes into a temporary sibling that is renamed into place only when complete, so an
    interrupted write never leaves a partial dataset under the final name, and two processes racing both
    end with the same complete copy.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / folder
    if target.exists():
        if not (target / COMPLETE_MARKER).is_file():
            raise InputFileError(
                target, f"exists but is not a complete dataset (no {COMPLETE_MARKER}); delete it"
            )
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.tmp-", dir=cache))
    try:
        write(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / COMPLETE_MARKER).is_file():
                raise
            logger.debug("another process wrote %s first; using its copy", target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
