"""Fixtures of the defect-sample tests: a session-wide model cache, builtin:tiny and builtin:tiny-xl, concept
files, images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sample_helpers import box_mask, random_image, write_concept


@pytest.fixture(scope="session", autouse=True)
def sample_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``DEFECTFILL_CACHE`` for the session unless the environment already sets one (the model builds once)."""
    import os

    if os.environ.get("DEFECTFILL_CACHE"):
        yield Path(os.environ["DEFECTFILL_CACHE"])
        return
    root = tmp_path_factory.mktemp("sample_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEFECTFILL_CACHE", str(root))
        yield root


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine, more threads mostly spin against other processes
    (a 64 px UNet call then takes 10x longer); the tiny model gains nothing from them anyway."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def base_pipe(sample_cache: Path):
    """builtin:tiny as a stock diffusers pipeline; tests must not load concepts into it."""
    from defect_sample.model_loading import load_inpaint_pipeline

    return load_inpaint_pipeline("builtin:tiny")


@pytest.fixture(scope="session")
def xl_pipe(sample_cache: Path):
    """builtin:tiny-xl as a stock diffusers StableDiffusionXLInpaintPipeline (Euler, as built)."""
    from defect_sample.model_loading import load_inpaint_pipeline

    return load_inpaint_pipeline("builtin:tiny-xl")


@pytest.fixture(scope="session")
def tiny_fingerprint(base_pipe) -> str:
    from defect_sample.model_loading import model_fingerprint

    return model_fingerprint(base_pipe.unet.config, base_pipe.text_encoder.config)


@pytest.fixture(scope="session")
def concept_files(tmp_path_factory: pytest.TempPathFactory, base_pipe, tiny_fingerprint) -> dict[str, Path]:
    """Two concept files on builtin:tiny: "crack" and "stain" (different random LoRAs)."""
    folder = tmp_path_factory.mktemp("concepts")
    return {
        name: write_concept(
            folder / f"{name}.safetensors", base_pipe, tiny_fingerprint, seed=seed, defect=name
        )[0]
        for name, seed in (("crack", 11), ("stain", 12))
    }


@pytest.fixture(scope="session")
def tiny_defectfill(sample_cache: Path, concept_files: dict[str, Path]):
    """A DefectFillPipeline on builtin:tiny with both concept files loaded (shared; tests switch adapters)."""
    from defect_sample.pipeline import DefectFillPipeline

    return DefectFillPipeline.from_pretrained(
        "builtin:tiny",
        concepts=[concept_files["crack"], concept_files["stain"]],
        device="cpu",
        dtype="float32",
    )


@pytest.fixture
def normals_dir(tmp_path: Path) -> Path:
    """Three 64 px normal images (a plain background with a square object, so placement finds it)."""
    folder = tmp_path / "good"
    folder.mkdir()
    for i in range(3):
        arr = np.asarray(random_image(100 + i)).copy()
        arr[:8], arr[-8:], arr[:, :8], arr[:, -8:] = 20, 20, 20, 20
        Image.fromarray(arr).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def masks_dir(tmp_path: Path) -> Path:
    """Two real 64 px masks (0 / 255)."""
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, box in enumerate([(16, 16, 32, 40), (24, 8, 48, 24)]):
        Image.fromarray(box_mask(*box).astype(np.uint8) * 255).save(folder / f"m{i}.png")
    return folder
