"""Fixtures of the defect-inspect tests: no network, empty weight caches, one torch thread, small datasets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from inspect_helpers import write_generation_output, write_synthetic_dataset


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("a defect-inspect test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _empty_weight_caches(monkeypatch, tmp_path_factory):
    """Empty Hugging Face and torch hub caches, offline: a test sees only the weight files it writes there
    itself (never a developer's real cache) and nothing is ever downloaded."""
    root = tmp_path_factory.mktemp("caches")
    monkeypatch.setenv("HF_HUB_CACHE", str(root / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every inspect test runs torch on one thread (see the root conftest)."""


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """An MVTec-layout dataset, object "tile", defects "square" and "stripe" (9 pairs each), 32 px."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "data")


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory) -> Path:
    """A generation output folder (manifest.jsonl) with 12 "square" and 12 "stripe" images of the same kind."""
    return write_generation_output(tmp_path_factory.mktemp("generated") / "out", count=12)


@pytest.fixture(scope="session")
def demo_root() -> Path:
    from defect_core.builtin.demo import ensure_demo_dataset

    return ensure_demo_dataset()
