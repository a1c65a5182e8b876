"""DefectFillSampler on an SDXL inpainting model (builtin:tiny-xl) against diffusers'
StableDiffusionXLInpaintPipeline: same final latents for guidance 1 and 20, strength 1.0 and 0.99, the
model's own scheduler (Euler) and DDIM, an omitted negative prompt (zeros), and padding_mask_crop.

What this pins beyond the SD2 test: both text encoders with their own tokenizers, the penultimate hidden
states, the pooled embedding of the second encoder, the six size / crop numbers, zero negative embeddings,
the image latent sampled before the noise when strength < 1, the Euler step's begin index, and the crop /
paste-back of padding_mask_crop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, StableDiffusionXLInpaintPipeline
from PIL import Image
from sample_helpers import SIZE, box_mask, random_image

from defect_sample.conditioning import encode_latents, latent_mask, masks_to_tensor, pil_to_tensor
from defect_sample.mask_crop import crop_around_mask, crop_pair
from defect_sample.pipeline import DefectFillPipeline
from defect_sample.sampler import DefectFillSampler
from defect_sample.sampling_defaults import DIAG_NEGATIVE_PROMPT

PROMPT = "white marks on the wall"
STEPS = 4  # strength 0.99 runs int(4 * 0.99) = 3 of them
ATOL, RTOL = 3e-4, 1e-4
"""Measured: 0.0 when our rows batch as the stock pipeline's (one call); up to 8.9e-5 on latents up to 23
(float32 kernels differ with the batch size) when split into 2 + 1 rows at guidance 20."""


@pytest.fixture(scope="module")
def sampler(xl_pipe) -> DefectFillSampler:
    return DefectFillSampler.from_pipeline(xl_pipe)


@pytest.fixture(scope="module")
def ddim_stock(xl_pipe) -> StableDiffusionXLInpaintPipeline:
    """The same components with the scheduler replaced by DDIM from the model's config (as a user would)."""
    pipe = StableDiffusionXLInpaintPipeline(
        **{k: v for k, v in xl_pipe.components.items() if k != "scheduler"},
        scheduler=DDIMScheduler.from_config(xl_pipe.scheduler.config),
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def stock(
    pipe, image, mask, *, candidates, guidance, strength, negative, seed, crop=None, output_type="latent"
):
    """The stock pipeline's final latents, or its images (``output_type``); with ``crop`` it returns PIL
    images only, and the final latents are left in ``final_latents`` by its step callback."""
    return pipe(
        prompt=PROMPT,
        negative_prompt=negative,
        image=image,
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
        height=image.height,
        width=image.width,
        num_inference_steps=STEPS,
        guidance_scale=guidance,
        strength=strength,
        padding_mask_crop=crop,
        num_images_per_prompt=candidates,
        generator=torch.Generator().manual_seed(seed),
        output_type=output_type,
        callback_on_step_end=_keep_latents,
        callback_on_step_end_tensor_inputs=["latents"],
    ).images


final_latents: dict[str, torch.Tensor] = {}


def _keep_latents(pipe, step, timestep, tensors):
    final_latents["latents"] = tensors["latents"].clone()  # after the last step: the final latents
    return tensors


@pytest.mark.parametrize(
    ("guidance", "strength", "negative"),
    [
        (1.0, 1.0, None),
        (1.0, 0.99, None),
        (20.0, 1.0, DIAG_NEGATIVE_PROMPT),
        (20.0, 0.99, DIAG_NEGATIVE_PROMPT),
        (20.0, 0.99, None),  # no negative prompt: SDXL's zero embeddings (force_zeros_for_empty_prompt)
    ],
)
def test_equals_stock_sdxl_pipeline_with_its_own_scheduler(xl_pipe, sampler, guidance, strength, negative):
    image, mask = random_image(1), box_mask(16, 8, 40, 32)  # aligned to the 8 px latent grid
    ref = stock(
        xl_pipe, image, mask, candidates=3, guidance=guidance, strength=strength, negative=negative, seed=7
    )
    out = sampler(
        images=[image],
        masks=[mask],
        prompt=PROMPT,
        negative_prompt=negative,
        num_candidates=3,
        num_inference_steps=STEPS,
        guidance_scale=guidance,
        strength=strength,
        seed=7,
        background_replacement=False,
        batch_size=2,  # 2 + 1 rows: batching must not matter
        scheduler="model",
    )
    assert type(sampler.schedulers["model"]).__name__ == "EulerDiscreteScheduler"
    torch.testing.assert_close(out.latents[0], ref, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("strength", [1.0, 0.99])
def test_equals_stock_sdxl_pipeline_with_ddim(ddim_stock, sampler, strength):
    image, mask = random_image(2), box_mask(8, 24, 32, 56)
    kwargs = dict(candidates=2, guidance=20.0, strength=strength, negative=DIAG_NEGATIVE_PROMPT, seed=3)
    ref = stock(ddim_stock, image, mask, **kwargs)
    ref_images = stock(ddim_stock, image, mask, **kwargs, output_type="np")
    out = sampler(
        images=[image],
        masks=[mask],
        prompt=PROMPT,
        negative_prompt=DIAG_NEGATIVE_PROMPT,
        num_candidates=2,
        num_inference_steps=STEPS,
        guidance_scale=20.0,
        strength=strength,
        seed=3,
        background_replacement=False,
    )
    torch.testing.assert_close(out.latents[0], ref, atol=ATOL, rtol=RTOL)
    ours = np.stack([np.asarray(im, dtype=np.float64) for im in out.images[0]])
    assert np.abs(ours - np.round(ref_images * 255)).max() <= 1  # uint8 rounding of equal floats


def test_padding_mask_crop_equals_stock_sdxl_pipeline(xl_pipe, sampler):
    # a 24 px box with 4 px of margin: a 32 x 32 crop, scaled by 2 to the working size, so that the mask's
    # edges land on the 8 px latent grid and Lanczos keeps its corners (the stock pipeline's nearest latent
    # mask then agrees with our max-pooled one; DIAG's margin of 2 is exercised in test_sample_presets.py)
    image, mask = random_image(3), box_mask(20, 20, 44, 44)
    kwargs = dict(candidates=2, guidance=20.0, strength=0.99, negative=DIAG_NEGATIVE_PROMPT, seed=5, crop=4)
    ref_images = stock(xl_pipe, image, mask, **kwargs, output_type="pil")
    ref_latents = final_latents["latents"]

    crop = crop_around_mask(mask, (SIZE, SIZE), 4)
    assert crop.box == (16, 16, 48, 48)
    crop_image, crop_mask = crop_pair(image, mask, crop)
    assert crop_image.size == (SIZE, SIZE) and np.array_equal(crop_mask, box_mask(8, 8, 56, 56))
    out = sampler(
        images=[crop_image],
        masks=[crop_mask],
        prompt=PROMPT,
        negative_prompt=DIAG_NEGATIVE_PROMPT,
        num_candidates=2,
        num_inference_steps=STEPS,
        guidance_scale=20.0,
        strength=0.99,
        seed=5,
        background_replacement=False,
        scheduler="model",
    )
    torch.testing.assert_close(out.latents[0], ref_latents, atol=ATOL, rtol=RTOL)

    # the whole pipeline: generated in the crop, pasted back into the full image
    pipe = DefectFillPipeline(xl_pipe, "builtin:tiny-xl")
    result = pipe(
        image=image,
        mask=mask,
        prompt=PROMPT,
        negative_prompt=DIAG_NEGATIVE_PROMPT,
        num_candidates=2,
        select="none",
        num_inference_steps=STEPS,
        guidance_scale=20.0,
        strength=0.99,
        padding_mask_crop=4,
        background_replacement=False,
        seed=5,
        scheduler="model",
    )
    normal = np.asarray(image)
    for ours, theirs in zip(result.candidates[0], ref_images, strict=True):
        a, b = np.asarray(ours, dtype=int), np.asarray(theirs, dtype=int)
        assert np.abs(a - b).max() <= 1
        assert np.array_equal(a[~mask], normal[~mask])  # outside the mask: the input, exactly
        assert np.abs(a[mask] - normal[mask]).mean() > 5  # inside: generated


def test_background_replacement_keeps_the_normal_latent_outside_the_mask_on_sdxl(xl_pipe, sampler):
    image, mask = random_image(4), box_mask(20, 20, 30, 44)
    out = sampler(
        images=[image],
        masks=[mask],
        prompt=PROMPT,
        num_candidates=2,
        num_inference_steps=STEPS,
        guidance_scale=20.0,
        strength=0.99,
        seed=1,
        scheduler="model",
    )
    background = encode_latents(xl_pipe.vae, pil_to_tensor([image]), sample=False)
    cells = latent_mask(masks_to_tensor([mask]), (8, 8))[0, 0]
    final = out.latents[0]
    torch.testing.assert_close(
        final[:, :, cells == 0], background.expand_as(final)[:, :, cells == 0], atol=1e-5, rtol=0
    )
    assert (final[:, :, cells == 1] - background.expand_as(final)[:, :, cells == 1]).abs().mean() > 0.1


def test_lfs_on_sdxl_keeps_the_candidate_with_the_lowest_masked_psnr(xl_pipe):
    image, mask = random_image(5), box_mask(16, 16, 48, 40)
    pipe = DefectFillPipeline(xl_pipe, "builtin:tiny-xl")
    out = pipe(
        image=image,
        mask=mask,
        prompt=PROMPT,
        num_candidates=3,
        select="psnr",
        num_inference_steps=2,
        guidance_scale=20.0,
        strength=0.99,
        seed=2,
    )
    normal = np.asarray(image, dtype=np.float64)

    def masked_psnr(candidate: Image.Image) -> float:  # by hand: 10 log10(255² / MSE) over the mask's pixels
        mse = ((np.asarray(candidate, dtype=np.float64) - normal)[mask] ** 2).mean()
        return 10 * np.log10(255.0**2 / mse)

    by_hand = [masked_psnr(c) for c in out.candidates[0]]
    assert len(set(np.round(by_hand, 6))) == 3  # three different candidates
    np.testing.assert_allclose(out.scores[0], by_hand, rtol=1e-6)
    assert out.selected[0] == int(np.argmin(by_hand)) and out.images[0] is out.candidates[0][out.selected[0]]
