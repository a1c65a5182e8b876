"""Datasets that the code writes itself into the cache (MVTec AD layout), by name: ``demo`` (the built-in
demo data) and ``surface-strips`` (the benchmark cut from the held-out strip of the surface photographs).
Both need ``defect-core[demo]`` (scikit-image's photographs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from defect_core.builtin.demo import ensure_demo_dataset
from defect_core.builtin.surface_strips import ensure_surface_strips

BUILTIN_DATASETS: dict[str, Callable[[], Path]] = {
    "demo": ensure_demo_dataset,
    "surface-strips": ensure_surface_strips,
}
"""name -> function that writes the dataset on first use and returns its MVTec-layout folder."""


def is_builtin_dataset(kind: str | None) -> bool:
    return kind in BUILTIN_DATASETS


def builtin_dataset_root(kind: str) -> Path:
    """The folder of built-in dataset ``kind`` (written on first use); its reader kind is ``"mvtec"``."""
    if kind not in BUILTIN_DATASETS:
        raise ValueError(f"unknown built-in dataset {kind!r}; available: {', '.join(BUILTIN_DATASETS)}")
    return BUILTIN_DATASETS[kind]()
