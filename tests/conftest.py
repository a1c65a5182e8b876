"""Session-wide settings for every test folder."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config) -> None:
    # built-in models and the demo dataset are built once per test session into a private cache, so a
    # test run never reads (or pollutes) the user's ~/.cache/defectfill and never needs the network
    os.environ.setdefault("DEFECTFILL_CACHE", tempfile.mkdtemp(prefix="defectfill-test-cache-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def one_torch_thread():
    """Two shared cores: torch's thread pool spinning against other processes slows small networks down."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
