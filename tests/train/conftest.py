"""Fixtures of the defect-train tests: the tiny base model, the demo data, and a fast config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from defect_train.config import TrainConfig


@pytest.fixture
def fast_config(tmp_path: Path) -> TrainConfig:
    """The paper's method on builtin:tiny at 64 px, a few steps, no preview (the sampler has its own tests)."""
    return replace(
        TrainConfig(output_dir=tmp_path / "run", base_model="builtin:tiny"),
        steps=4,
        resolution=64,
        batch_size=2,
        warmup_steps=2,
        checkpoint_every=2,
        preview_count=0,
        log_every=1,
    )


@pytest.fixture(scope="session")
def tiny_pipe():
    from defect_sample.model_loading import load_inpaint_pipeline

    return load_inpaint_pipeline("builtin:tiny")
