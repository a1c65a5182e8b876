"""Built-in base models (``builtin:<name>``): built or unpacked once into a cache folder, then loaded
through the same ``from_pretrained`` path as any hub model or local folder."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from defect_core.builtin.cache import default_cache_dir
from defect_sample.quiet_loading import library_progress_bars_off
from defect_sample.tiny_model import TINY_MODEL_VERSION, build_tiny_pipeline
from defect_sample.tiny_xl_model import TINY_XL_MODEL_VERSION, build_tiny_xl_pipeline

logger = logging.getLogger(__name__)

BUILTIN_PREFIX = "builtin:"
_BUILDERS: dict[str, tuple[int, Callable[[Path], object]]] = {}


def register_builtin(
    name: str, version: int
) -> Callable[[Callable[[Path], object]], Callable[[Path], object]]:
    """Register ``builder(folder)`` that writes the model ``builtin:<name>`` (diffusers layout) into folder."""

    def decorator(builder: Callable[[Path], object]) -> Callable[[Path], object]:
        _BUILDERS[name] = (version, builder)
        return builder

    return decorator


register_builtin("tiny", TINY_MODEL_VERSION)(build_tiny_pipeline)
register_builtin("tiny-xl", TINY_XL_MODEL_VERSION)(build_tiny_xl_pipeline)

PACKAGED_DIR = Path(__file__).parent / "builtin"
_PACKAGED: dict[str, Path] = {"texture": PACKAGED_DIR / "texture"}
"""Built-in models whose trained weights ship inside this package (a diffusers folder each)."""


def available_builtins() -> list[str]:
    """Names usable as ``builtin:<name>``."""
    return sorted(set(_BUILDERS) | set(_PACKAGED))


def cache_root() -> Path:
    """``$DEFECTFILL_CACHE``, else ``$XDG_CACHE_HOME/defectfill``, else ``~/.cache/defectfill``."""
    return default_cache_dir()


def is_builtin(model: str | os.PathLike) -> bool:
    return isinstance(model, str) and model.startswith(BUILTIN_PREFIX)


def builtin_model_path(model: str) -> Path:
    """The folder of ``builtin:<name>``, building it on first use (into a temporary folder, then renamed,
    so an interrupted build never leaves a half model behind)."""
    name = model.removeprefix(BUILTIN_PREFIX)
    if name in _PACKAGED:
        folder = _PACKAGED[name]
        if not (folder / "model_index.json").is_file():
            raise FileNotFoundError(
                f"{folder}: the weights of {model} are missing from this installation of "
                "defect-sample (reinstall it, or use builtin:tiny)"
            )
        return folder
    if name not in _BUILDERS:
        raise ValueError(
            f"unknown built-in model {model!r}; available: "
            + ", ".join(BUILTIN_PREFIX + n for n in available_builtins())
        )
    version, builder = _BUILDERS[name]
    folder = cache_root() / "builtin" / f"{name}-v{version}"
    if (folder / "model_index.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    logger.info("building %s into %s (first use)", model, folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        with library_progress_bars_off():  # transformers' "Writing model shards" bar
            builder(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            # another process finished first; its copy is identical (fixed seeds)
            if not (folder / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
