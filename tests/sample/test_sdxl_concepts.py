"""DefectFill concepts (LoRA files) on an SDXL base: the sampler with the concept equals stock diffusers'
StableDiffusionXLInpaintPipeline after ``load_lora_weights``; a concept of another architecture is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from PIL import Image
from sample_helpers import SIZE, box_mask, random_image, write_concept

from defect_core.errors import ConceptFileError
from defect_sample.model_loading import load_inpaint_pipeline, pipeline_fingerprint
from defect_sample.pipeline import DefectFillPipeline


@pytest.fixture(scope="module")
def xl_concept(tmp_path_factory, xl_pipe):
    folder = tmp_path_factory.mktemp("xl_concepts")
    path, _, _ = write_concept(
        folder / "crack.safetensors",
        xl_pipe,
        pipeline_fingerprint(xl_pipe),
        seed=11,
        defect="crack",
        base_id="builtin:tiny-xl",
    )  # LoRA on the UNet and the first text encoder, the layout defect-train writes
    return path


def test_concept_on_sdxl_equals_stock_pipeline_with_load_lora_weights(xl_concept):
    image, mask = random_image(1), box_mask(16, 8, 40, 32)
    ours = DefectFillPipeline.from_pretrained(
        "builtin:tiny-xl", concepts=[xl_concept], device="cpu", dtype="float32"
    )
    common = dict(image=image, mask=mask, num_candidates=2, select="none", num_inference_steps=3, seed=4)
    out = ours(concept="tile/crack", background_replacement=False, **common)

    stock = load_inpaint_pipeline("builtin:tiny-xl")
    stock.scheduler = DDIMScheduler.from_config(stock.scheduler.config)  # DefectFill samples with DDIM
    stock.load_lora_weights(str(xl_concept))  # the plain diffusers call a user would make
    ref = stock(
        prompt="A photo of sks",  # the concept prompt
        image=image,
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
        height=SIZE,
        width=SIZE,
        num_inference_steps=3,
        guidance_scale=1.0,
        strength=1.0,  # the SDXL pipeline's default is 0.9999
        num_images_per_prompt=2,
        generator=torch.Generator().manual_seed(4),
        output_type="np",
    ).images
    candidates = np.stack([np.asarray(im, dtype=np.float64) for im in out.candidates[0]])
    assert np.abs(candidates - np.round(ref * 255)).max() <= 1

    # the adapter matters: the base model, same prompt and seed, fills something else
    base = ours(prompt="A photo of sks", guidance_scale=1.0, background_replacement=False, **common)
    plain = np.stack([np.asarray(im, dtype=np.float64) for im in base.candidates[0]])
    assert np.abs(candidates - plain)[:, mask].mean() > 2


def test_concept_of_a_stable_diffusion_base_is_refused_on_sdxl(concept_files, xl_pipe):
    pipe = DefectFillPipeline(xl_pipe, "builtin:tiny-xl")
    with pytest.raises(ConceptFileError, match="another architecture") as info:
        pipe.load_concept(concept_files["crack"])
    assert str(concept_files["crack"]) in str(info.value)
