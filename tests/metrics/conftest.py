"""Shared fixtures of the metrics tests: no test may reach the network (weights must never be downloaded)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("a defect-metrics test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _empty_weight_caches(monkeypatch, tmp_path_factory):
    """Point torch's hub cache and clean-fid's cache at empty folders, so that a test sees only the weight
    files it puts there itself (and never a developer's real cache)."""
    import defect_core.weight_files as weights

    root = tmp_path_factory.mktemp("caches")
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setattr(weights, "clean_fid_cache_dir", lambda: root / "clean-fid")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The test machines have two shared cores; torch's thread pool spinning against other processes made
    these small networks 10-30x slower than a single thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
