"""DefectFillSampler against diffusers' StableDiffusionInpaintPipeline, and its own guarantees.

The equivalence pins the conventions that only real weights would otherwise reveal (DESIGN.md §4): UNet
input order, the masked image ``I * (M < 0.5)``, latent scaling, the scheduler config, prompt padding, the
generator's order of draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sample_helpers import SIZE, box_mask, random_image

from defect_sample.conditioning import encode_latents, latent_mask, masks_to_tensor, pil_to_tensor
from defect_sample.sampler import DefectFillSampler

PROMPT = "a photo of sks"
STEPS = 3


@pytest.fixture(scope="module")
def sampler(base_pipe) -> DefectFillSampler:
    return DefectFillSampler.from_pipeline(base_pipe)


def stock(base_pipe, image, mask, *, candidates, guidance, seed, latents=None, negative=None):
    """The stock pipeline's final latents (K, 4, 8, 8) and decoded images (K, H, W, 3) in [0, 1]."""
    kwargs = dict(
        prompt=PROMPT,
        image=image,
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
        height=SIZE,
        width=SIZE,
        num_inference_steps=STEPS,
        guidance_scale=guidance,
        negative_prompt=negative,
        num_images_per_prompt=candidates,
        latents=latents,
    )
    lat = base_pipe(**kwargs, generator=torch.Generator().manual_seed(seed), output_type="latent").images
    img = base_pipe(**kwargs, generator=torch.Generator().manual_seed(seed), output_type="np").images
    return lat, img


@pytest.mark.parametrize(("guidance", "negative"), [(1.0, None), (4.0, "smooth")])
def test_equals_stock_inpaint_pipeline_without_background_replacement(base_pipe, sampler, guidance, negative):
    image, mask = random_image(1), box_mask(16, 8, 40, 32)  # aligned to the 8 px latent grid
    ref_latents, ref_images = stock(
        base_pipe, image, mask, candidates=3, guidance=guidance, seed=7, negative=negative
    )
    out = sampler(
        images=[image],
        masks=[mask],
        prompt=PROMPT,
        negative_prompt=negative,
        num_candidates=3,
        num_inference_steps=STEPS,
        guidance_scale=guidance,
        seed=7,
        background_replacement=False,
        batch_size=2,
    )  # split into 2 + 1 rows: batching must not matter
    torch.testing.assert_close(out.latents[0], ref_latents, atol=2e-5, rtol=1e-4)
    ours = np.stack([np.asarray(im, dtype=np.float64) for im in out.images[0]])
    assert np.abs(ours - np.round(ref_images * 255)).max() <= 1  # uint8 rounding of equal floats


def test_equals_stock_with_given_initial_latents(base_pipe, sampler):
    image, mask = random_image(2), box_mask(8, 24, 32, 56)
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    ref_latents, _ = stock(base_pipe, image, mask, candidates=2, guidance=1.0, seed=5, latents=latents)
    out = sampler(
        images=[image],
        masks=[mask],
        prompt=PROMPT,
        num_candidates=2,
        num_inference_steps=STEPS,
        seed=5,
        background_replacement=False,
        latents=latents,
    )
    torch.testing.assert_close(out.latents[0], ref_latents, atol=2e-5, rtol=1e-4)


def test_outside_the_mask_the_final_latent_is_the_normal_images_latent(base_pipe, sampler):
    image, mask = random_image(3), box_mask(20, 20, 30, 44)  # not grid-aligned: max-pool marks 2 x 4 cells
    out = sampler(
        images=[image], masks=[mask], prompt=PROMPT, num_candidates=2, num_inference_steps=STEPS, seed=1
    )
    background = encode_latents(base_pipe.vae, pil_to_tensor([image]), sample=False)
    cells = latent_mask(masks_to_tensor([mask]), (8, 8))[0, 0]
    assert cells.sum() == 8 and cells[2:4, 2:6].all()  # any defect pixel marks its 8 x 8 cell
    final = out.latents[0]
    torch.testing.assert_close(
        final[:, :, cells == 0], background.expand_as(final)[:, :, cells == 0], atol=1e-6, rtol=0
    )
    assert (final[:, :, cells == 1] - background.expand_as(final)[:, :, cells == 1]).abs().mean() > 0.1
    # generated inside only: the decoded candidates differ from each other in the masked region
    a, b = (np.asarray(im, dtype=np.int16) for im in out.images[0])
    assert np.abs(a - b)[mask].mean() > np.abs(a - b)[~mask].mean()


def test_same_seed_same_image_whatever_the_batch_size_and_the_other_items(sampler):
    images = [random_image(10 + i) for i in range(3)]
    masks = [box_mask(8, 8, 24, 40), box_mask(30, 10, 50, 30), box_mask(4, 30, 60, 40)]
    kw = dict(prompt=PROMPT, num_candidates=2, num_inference_steps=2)
    together = sampler(images=images, masks=masks, seed=[100, 101, 102], batch_size=6, **kw)
    small = sampler(images=images, masks=masks, seed=[100, 101, 102], batch_size=1, **kw)
    alone = sampler(images=[images[2]], masks=[masks[2]], seed=[102], batch_size=3, **kw)
    reversed_ = sampler(images=images[::-1], masks=masks[::-1], seed=[102, 101, 100], batch_size=4, **kw)
    for other, index in ((small, 2), (alone, 0), (reversed_, 0)):
        torch.testing.assert_close(other.latents[index], together.latents[2], atol=1e-5, rtol=1e-5)
    # an int seed means seed + i per item
    by_int = sampler(images=images[:2], masks=masks[:2], seed=100, **kw)
    torch.testing.assert_close(by_int.latents[1], together.latents[1], atol=1e-5, rtol=1e-5)
    # and another seed gives another image
    assert (
        sampler(images=[images[2]], masks=[masks[2]], seed=[7], **kw).latents[0] - together.latents[2]
    ).abs().max() > 0.1


def test_conditioning_is_computed_once_per_item(sampler, monkeypatch):
    calls = {"text": 0, "vae": 0}
    text_forward, vae_encode = sampler.text_encoder.forward, sampler.vae.encode

    def count_text(*a, **k):
        calls["text"] += 1
        return text_forward(*a, **k)

    def count_vae(*a, **k):
        calls["vae"] += 1
        return vae_encode(*a, **k)

    monkeypatch.setattr(sampler.text_encoder, "forward", count_text)
    monkeypatch.setattr(sampler.vae, "encode", count_vae)
    sampler(
        images=[random_image(1)] * 2,
        masks=[box_mask(8, 8, 16, 16)] * 2,
        prompt=PROMPT,
        num_candidates=4,
        num_inference_steps=1,
        batch_size=3,
    )
    # one text encoding; masked images and backgrounds in chunks of batch_size images, not per candidate
    assert calls == {"text": 1, "vae": 2}


def test_v_prediction_base_is_supported(base_pipe):
    from diffusers import DDIMScheduler

    config = dict(base_pipe.scheduler.config, prediction_type="v_prediction")
    v_sampler = DefectFillSampler(
        base_pipe.vae,
        base_pipe.text_encoder,
        base_pipe.tokenizer,
        base_pipe.unet,
        DDIMScheduler.from_config(config),
    )
    assert v_sampler.scheduler.config.prediction_type == "v_prediction"
    image, mask = random_image(4), box_mask(16, 16, 40, 40)
    eps = DefectFillSampler.from_pipeline(base_pipe)(
        images=[image], masks=[mask], prompt=PROMPT, num_inference_steps=2
    )
    v = v_sampler(images=[image], masks=[mask], prompt=PROMPT, num_inference_steps=2)
    assert (eps.latents[0] - v.latents[0]).abs().max() > 1e-3  # the prediction type is honoured


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(masks=[]), "masks: got 0 masks"),
        (dict(num_candidates=0), "num_candidates"),
        (dict(images=[random_image(0, 60)], masks=[np.ones((60, 60), bool)]), "not a multiple"),
        (dict(masks=[np.ones((32, 32), bool)]), "differs from the image"),
        (dict(seed=[1, 2]), "2 seeds for 1 images"),
        (dict(strength=0.0), "strength must be in"),
        (dict(strength=0.99), "runs int"),
        (dict(scheduler="euler"), "unknown scheduler"),
    ],
)
def test_bad_arguments_are_named(sampler, kwargs, message):
    args = dict(images=[random_image(0)], masks=[box_mask(0, 0, 8, 8)], prompt=PROMPT, num_inference_steps=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sampler(**args)


# -- strength and padding_mask_crop against the stock pipeline (the SDXL twins: test_sdxl_equivalence.py) --


def _keep_final_latents(store: dict):
    def callback(pipe, step, timestep, tensors):
        store["latents"] = tensors["latents"].clone()  # after the last step: the final latents
        return tensors

    return callback


@pytest.mark.parametrize(("guidance", "strength"), [(1.0, 0.99), (20.0, 0.99), (20.0, 0.5)])
def test_strength_equals_stock_inpaint_pipeline(base_pipe, sampler, guidance, strength):
    image, mask = random_image(5), box_mask(16, 8, 40, 32)
    steps = 4  # 0.99 runs 3 steps, 0.5 runs 2: the image latent noised to the first of them
    ref = base_pipe(
        prompt=PROMPT,
        negative_prompt="smooth",
        image=image,
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
        height=SIZE,
        width=SIZE,
        num_inference_steps=steps,
        guidance_scale=guidance,
        strength=strength,
        num_images_per_prompt=2,
        generator=torch.Generator().manual_seed(9),
        output_type="latent",
    ).images
    out = sampler(
        images=[image],
        masks=[mask],
        prompt=PROMPT,
        negative_prompt="smooth",
        num_candidates=2,
        num_inference_steps=steps,
        guidance_scale=guidance,
        strength=strength,
        seed=9,
        background_replacement=False,
    )
    torch.testing.assert_close(out.latents[0], ref, atol=1e-4, rtol=1e-4)
    # and strength changes the result: 1.0 starts from noise alone
    full = sampler(
        images=[image], masks=[mask], prompt=PROMPT, num_candidates=2, num_inference_steps=steps, seed=9
    )
    assert (full.latents[0] - out.latents[0]).abs().max() > 1e-2


def test_padding_mask_crop_equals_stock_inpaint_pipeline(base_pipe, sampler, tiny_defectfill):
    from defect_sample.mask_crop import crop_around_mask, crop_pair

    # 24 px box + 4 px margin = a 32 px crop scaled by 2: mask edges on the latent grid (see the SDXL test)
    image, mask = random_image(6), box_mask(20, 12, 44, 36)
    store: dict = {}
    ref_images = base_pipe(
        prompt=PROMPT,
        image=image,
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
        height=SIZE,
        width=SIZE,
        num_inference_steps=3,
        guidance_scale=4.0,
        strength=0.99,
        padding_mask_crop=4,
        num_images_per_prompt=2,
        generator=torch.Generator().manual_seed(2),
        callback_on_step_end=_keep_final_latents(store),
        callback_on_step_end_tensor_inputs=["latents"],
    ).images
    crop = crop_around_mask(mask, (SIZE, SIZE), 4)
    assert crop.box == (8, 16, 40, 48)
    crop_image, crop_mask = crop_pair(image, mask, crop)
    assert np.array_equal(crop_mask, box_mask(8, 8, 56, 56))
    kw = dict(prompt=PROMPT, num_inference_steps=3, guidance_scale=4.0, strength=0.99, seed=2)
    out = sampler(
        images=[crop_image], masks=[crop_mask], num_candidates=2, background_replacement=False, **kw
    )
    torch.testing.assert_close(out.latents[0], store["latents"], atol=1e-4, rtol=1e-4)

    tiny_defectfill.concepts.deactivate()
    result = tiny_defectfill(
        image=image,
        mask=mask,
        num_candidates=2,
        select="none",
        padding_mask_crop=4,
        background_replacement=False,
        **kw,
    )
    normal = np.asarray(image)
    for ours, theirs in zip(result.candidates[0], ref_images, strict=True):
        a, b = np.asarray(ours, dtype=int), np.asarray(theirs, dtype=int)
        assert np.abs(a - b).max() <= 1
        assert np.array_equal(a[~mask], normal[~mask])  # outside the mask: the input, exactly
