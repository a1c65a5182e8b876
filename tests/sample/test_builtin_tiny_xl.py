"""builtin:tiny-xl: an SDXL-shaped inpainting model built by code, loaded through the folder path as any
SDXL checkpoint, and its identity (both text encoders in the fingerprints)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from diffusers import StableDiffusionXLInpaintPipeline
from safetensors.torch import load_file, save_file

from defect_sample.builtin_models import available_builtins, builtin_model_path
from defect_sample.model_loading import (
    folder_is_sdxl,
    is_sdxl,
    load_base_model,
    load_inpaint_pipeline,
    model_fingerprint,
    pipeline_fingerprint,
)
from defect_sample.weights_fingerprint import weights_fingerprint


def test_tiny_xl_is_built_into_the_cache_and_loads_as_an_sdxl_inpainting_pipeline(sample_cache, xl_pipe):
    assert "tiny-xl" in available_builtins()
    folder = builtin_model_path("builtin:tiny-xl")
    assert folder.parent == sample_cache / "builtin" and folder_is_sdxl(folder)
    for part in ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"):
        assert (folder / part).is_dir(), part
    assert not list(folder.rglob("*.bin"))  # safetensors only
    assert isinstance(xl_pipe, StableDiffusionXLInpaintPipeline) and is_sdxl(xl_pipe)
    unet = xl_pipe.unet.config
    assert unet.in_channels == 9 and unet.addition_embed_type == "text_time"
    # the added embedding takes the six size / crop numbers and the second encoder's pooled embedding
    assert (
        xl_pipe.unet.add_embedding.linear_1.in_features
        == 6 * 8 + xl_pipe.text_encoder_2.config.projection_dim
    )
    assert unet.cross_attention_dim == xl_pipe.text_encoder.config.hidden_size * 2
    assert unet.sample_size * xl_pipe.vae_scale_factor == 64  # native size, as builtin:tiny
    assert type(xl_pipe.scheduler).__name__ == "EulerDiscreteScheduler"  # as SDXL inpainting 0.1
    assert xl_pipe.tokenizer_2.pad_token == "!" and xl_pipe.tokenizer.pad_token == "<|endoftext|>"

    # the same weights by folder path as by builtin name, through plain diffusers as well
    by_folder = load_inpaint_pipeline(folder)
    plain = StableDiffusionXLInpaintPipeline.from_pretrained(folder, add_watermarker=False)
    for other in (by_folder, plain):
        for name in ("unet", "text_encoder_2"):
            ours, theirs = getattr(xl_pipe, name).state_dict(), getattr(other, name).state_dict()
            assert all(torch.equal(ours[k], theirs[k]) for k in ours), name


def test_tiny_xl_build_is_deterministic(xl_pipe, tmp_path, monkeypatch):
    """A second build (another cache) writes the same weights as the session's copy (fixed seeds)."""
    monkeypatch.setenv("DEFECTFILL_CACHE", str(tmp_path))
    other = builtin_model_path("builtin:tiny-xl")
    assert other.is_relative_to(tmp_path)
    for part in ("unet", "text_encoder", "text_encoder_2"):
        (theirs,) = (other / part).glob("*.safetensors")
        ours = getattr(xl_pipe, part).state_dict()
        saved = load_file(theirs)
        assert all(torch.equal(ours[k], saved[k]) for k in saved), part


def test_fingerprints_cover_the_second_text_encoder(xl_pipe, base_pipe, tmp_path):
    with_second = pipeline_fingerprint(xl_pipe)
    without = model_fingerprint(xl_pipe.unet.config, xl_pipe.text_encoder.config)
    assert with_second != without
    # a Stable Diffusion model's fingerprint is what model_fingerprint always gave (its concepts keep matching)
    assert pipeline_fingerprint(base_pipe) == model_fingerprint(
        base_pipe.unet.config, base_pipe.text_encoder.config
    )
    assert load_base_model("builtin:tiny-xl").ref.fingerprint == with_second

    # other second-encoder weights: another weights fingerprint
    folder = builtin_model_path("builtin:tiny-xl")
    copy = Path(shutil.copytree(folder, tmp_path / "xl_copy"))
    assert weights_fingerprint(copy) == weights_fingerprint(folder)
    (weights,) = (copy / "text_encoder_2").glob("*.safetensors")
    tensors = load_file(weights)
    key = next(k for k in tensors if k.endswith("text_projection.weight"))
    tensors[key] = tensors[key] + 0.5
    save_file(tensors, weights, metadata={"format": "pt"})
    assert weights_fingerprint(copy) != weights_fingerprint(folder)
