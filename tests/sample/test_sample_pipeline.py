"""DefectFillPipeline (the library API), pixel composite and working sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sample_helpers import box_mask, random_image

from defect_core.masks import resize_mask_covering
from defect_sample.composite import composite_outside_mask, feathered_alpha
from defect_sample.pipeline import DefectFillPipeline, DefectFillPipelineOutput
from defect_sample.sampler import DefectFillSampler
from defect_sample.working_size import resize_pair, working_size


def test_pipeline_call_fills_with_the_active_concept_and_keeps_one_candidate(tiny_defectfill):
    image, mask = random_image(20), box_mask(16, 16, 48, 40)
    out = tiny_defectfill(
        image=image,
        mask=mask,
        concept="tile/stain",
        num_candidates=3,
        select="psnr",
        num_inference_steps=2,
        seed=4,
    )
    assert isinstance(out, DefectFillPipelineOutput)
    assert len(out.images) == len(out.candidates) == len(out.scores) == 1 and len(out.candidates[0]) == 3
    assert out.selected[0] == int(np.argmin(out.scores[0]))
    assert np.array_equal(np.asarray(out.images[0]), np.asarray(out.candidates[0][out.selected[0]]))
    # the same as the bare sampler with the concept's adapter on and its prompt "A photo of sks"
    tiny_defectfill.concepts.activate("tile/stain")
    ref = DefectFillSampler.from_pipeline(tiny_defectfill.base)(
        images=[image], masks=[mask], prompt="A photo of sks", num_candidates=3, num_inference_steps=2, seed=4
    )
    for ours, theirs in zip(out.candidates[0], ref.images[0], strict=True):
        assert np.abs(np.asarray(ours, dtype=int) - np.asarray(theirs, dtype=int)).max() <= 1


def test_pipeline_resizes_to_the_working_size_and_needs_a_prompt_zero_shot(tiny_defectfill):
    image = random_image(21, 100)  # 100 px: not a multiple of 8
    mask = box_mask(10, 10, 30, 50, size=100)
    out = tiny_defectfill(
        image=[image],
        mask=[mask],
        prompt="white marks",
        num_candidates=1,
        select="none",
        num_inference_steps=1,
        resolution=64,
    )
    assert out.images[0].size == (64, 64) and out.masks[0].shape == (64, 64) and out.scores == [()]
    with pytest.raises(ValueError, match="needs a prompt"):
        tiny_defectfill(image=image, mask=mask, num_inference_steps=1)
    with pytest.raises(ValueError, match="empty"):
        tiny_defectfill(
            image=random_image(1), mask=np.zeros((64, 64), bool), prompt="x", num_inference_steps=1
        )


def test_feathered_composite_is_generated_inside_normal_outside_and_a_ramp_between():
    generated = Image.new("RGB", (32, 32), (200, 10, 10))
    normal = Image.new("RGB", (32, 32), (0, 100, 0))
    mask = box_mask(10, 10, 20, 20, size=32)
    out = np.asarray(composite_outside_mask(generated, normal, mask, grow=1, feather=1))
    alpha = np.asarray(feathered_alpha(mask, grow=1, feather=1), dtype=np.float64)
    assert (out[10:20, 10:20] == (200, 10, 10)).all()  # inside the mask: generated
    far = np.ones((32, 32), bool)
    far[7:23, 7:23] = False  # beyond grow 1 + feather 1 (+1 box radius)
    assert (out[far] == (0, 100, 0)).all() and (alpha[far] == 0).all()
    ramp = out[9, 9:21, 0]  # one pixel outside the mask: partly blended
    assert 0 < ramp.min() <= ramp.max() <= 200
    expected = np.round(200 * alpha / 255.0)
    assert np.abs(out[..., 0].astype(int) - expected).max() <= 1  # alpha blending, channel by channel


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ((900, 900), 512, (512, 512)),
        ((630, 230), 512, (512, 184)),
        ((64, 64), 64, (64, 64)),
        ((10, 400), 64, (8, 64)),
    ],
)
def test_working_size_keeps_the_aspect_on_the_vae_grid(size, resolution, expected):
    assert working_size(size, resolution) == expected


def test_shrinking_a_mask_keeps_a_one_pixel_scratch():
    mask = np.zeros((64, 64), bool)
    mask[:, 33] = True  # a one-pixel vertical scratch
    small = resize_mask_covering(mask, (16, 16))
    assert small.shape == (16, 16) and small[:, 8].all() and small.sum() == 16
    big = resize_mask_covering(box_mask(2, 2, 4, 4, size=8), (16, 16))
    assert big.sum() == 16 and big[4:8, 4:8].all()
    image, m = resize_pair(Image.new("RGB", (128, 96)), np.ones((48, 64), bool), (64, 48))
    assert image.size == (64, 48) and m.shape == (48, 64)


def test_from_pretrained_picks_dtype_and_device(sample_cache):
    from defect_sample.pipeline import resolve_device, resolve_dtype

    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("float8", torch.device("cpu"))
    assert resolve_device("cpu") == torch.device("cpu")
    pipe = DefectFillPipeline.from_pretrained("builtin:tiny", device="cpu", dtype="float32")
    assert pipe.device == torch.device("cpu") and pipe.concepts.concepts == []


def test_public_api_resolves_and_nothing_imports_the_other_packages():
    import ast
    from pathlib import Path

    import defect_sample

    for name in defect_sample.__all__:
        assert getattr(defect_sample, name) is not None, name
    forbidden = ("defect_train", "defect_metrics", "defect_inspect")
    sources = sorted(Path(defect_sample.__file__).parent.rglob("*.py"))
    assert len(sources) >= 15
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] in forbidden for n in names), f"{path} imports {names}"
