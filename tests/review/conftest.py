"""Fixtures of the review-app tests: builtin:tiny loaded once, a concept file on it, normal images, and a
session factory over a fresh output folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# the concept files of the sampler tests (a random LoRA on builtin:tiny), not a second copy of that code
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sample"))
from sample_helpers import random_image, write_concept  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every review test runs torch on one thread (see the root conftest)."""


@pytest.fixture(scope="session")
def tiny_review_pipeline(tmp_path_factory):
    """builtin:tiny as a DefectFillPipeline with one concept ("tile/crack"), shared by the review tests."""
    import torch

    from defect_sample.model_loading import load_inpaint_pipeline, model_fingerprint
    from defect_sample.pipeline import DefectFillPipeline

    torch.set_num_threads(1)
    base = load_inpaint_pipeline("builtin:tiny")
    concept, _, _ = write_concept(
        tmp_path_factory.mktemp("concepts") / "crack.safetensors",
        base,
        model_fingerprint(base.unet.config, base.text_encoder.config),
        seed=5,
        defect="crack",
    )
    pipeline = DefectFillPipeline(base, "builtin:tiny")
    pipeline.load_concept(concept)
    return pipeline


@pytest.fixture(scope="session")
def psnr_selector():
    from defect_sample.selection import create_selector

    return create_selector("psnr")


@pytest.fixture
def normals(tmp_path: Path) -> Path:
    """Two 64 px normal images (smooth random colours on a dark frame, so placement finds an object)."""
    folder = tmp_path / "good"
    folder.mkdir()
    for i in range(2):
        arr = np.asarray(random_image(200 + i)).copy()
        arr[:6], arr[-6:], arr[:, :6], arr[:, -6:] = 15, 15, 15, 15
        Image.fromarray(arr).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def make_session(tmp_path: Path, normals: Path, tiny_review_pipeline, psnr_selector) -> Callable:
    """``make_session(**config)``: a ReviewSession on builtin:tiny over ``normals`` and ``tmp_path/out``."""
    from defect_sample.review.config import ReviewConfig
    from defect_sample.review.session import ReviewSession

    def make(**changes):
        values = dict(
            normals=normals,
            out=tmp_path / "out",
            base_model="builtin:tiny",
            select="psnr",
            device="cpu",
            dtype="float32",
            concept=(tiny_review_pipeline.concepts.concepts[0].path,),
        )
        values.update(changes)
        return ReviewSession(ReviewConfig(**values), pipeline=tiny_review_pipeline, selector=psnr_selector)

    return make
