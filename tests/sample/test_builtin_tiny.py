"""builtin:tiny, base-model loading and the UNet conditioning helpers, against diffusers itself."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from diffusers import StableDiffusionInpaintPipeline
from PIL import Image
from safetensors.torch import load_file, save_file

from defect_core.concept_card import BaseModelRef
from defect_sample import model_loading
from defect_sample.builtin_models import builtin_model_path, cache_root
from defect_sample.conditioning import (
    encode_latents,
    latent_mask,
    masked_image,
    masks_to_tensor,
    pil_to_tensor,
    token_piece_ids,
    token_positions,
    tokenize,
    unet_input,
)
from defect_sample.model_loading import BaseModelError, load_inpaint_pipeline, model_fingerprint

TINY_SIZE = 64


@pytest.fixture(scope="module")
def tiny_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ``DEFECTFILL_CACHE`` for this file's tests, so that the first use really builds the model.

    Module-scoped so that the override ends with this file and the other sample tests keep the session's
    cache (tests/conftest.py, tests/sample/conftest.py)."""
    root = tmp_path_factory.mktemp("defectfill_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEFECTFILL_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def tiny_folder(tiny_cache_dir: Path) -> Path:
    assert cache_root() == tiny_cache_dir
    return builtin_model_path("builtin:tiny")


@pytest.fixture(scope="module")
def tiny_pipe(tiny_folder: Path) -> StableDiffusionInpaintPipeline:
    return load_inpaint_pipeline("builtin:tiny")


def file_stamps(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


# -- builtin:tiny ---------------------------------------------------------------------------------------


def test_builtin_tiny_is_built_once_into_the_cache(tiny_cache_dir: Path, tiny_folder: Path) -> None:
    assert tiny_folder.parent == tiny_cache_dir / "builtin"
    assert (tiny_folder / "model_index.json").is_file()
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (tiny_folder / part).is_dir(), part
    assert not list(tiny_folder.rglob("*.bin")) and not list(tiny_folder.rglob("*.pt"))  # no pickles
    assert [p.name for p in tiny_folder.parent.iterdir()] == [tiny_folder.name]  # no leftover temp folder

    stamps = file_stamps(tiny_folder)
    assert builtin_model_path("builtin:tiny") == tiny_folder
    assert file_stamps(tiny_folder) == stamps  # second use: nothing rewritten


def test_builtin_tiny_build_is_deterministic(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFECTFILL_CACHE", str(tmp_path))
    other = builtin_model_path("builtin:tiny")
    assert other != tiny_folder
    for part in ("unet", "vae", "text_encoder"):
        (mine,) = (tiny_folder / part).glob("*.safetensors")
        (theirs,) = (other / part).glob("*.safetensors")
        a, b = load_file(mine), load_file(theirs)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), part


def test_unknown_builtin_names_the_available_ones(tiny_cache_dir: Path) -> None:
    with pytest.raises(ValueError, match="builtin:tiny"):
        builtin_model_path("builtin:huge")


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Toy-sized ops gain nothing from threads, and on a shared 2-core machine two threads that wait for
    each other turn 0.5 s into 10 s; one thread makes the timing below measure the model, not the load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_plain_diffusers_loads_it_and_makes_a_64px_image(tiny_folder: Path, one_torch_thread: None) -> None:
    # its speed is measured by packages/defect-sample/bench, not asserted here
    pipe = StableDiffusionInpaintPipeline.from_pretrained(
        tiny_folder, safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    image = Image.new("RGB", (TINY_SIZE, TINY_SIZE), (120, 100, 80))
    mask = Image.new("L", (TINY_SIZE, TINY_SIZE), 0)
    mask.paste(255, (16, 16, 40, 48))
    result = pipe(
        prompt="a photo of sks",
        image=image,
        mask_image=mask,
        height=TINY_SIZE,
        width=TINY_SIZE,
        num_inference_steps=50,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    assert result.size == (TINY_SIZE, TINY_SIZE)
    assert np.asarray(result).std() > 0  # something was drawn, not a blank canvas
    assert pipe.unet.config.in_channels == 9


def test_tokenizer_keeps_sks_whole_and_splits_unknown_words(tiny_pipe) -> None:
    tok = tiny_pipe.tokenizer
    assert tok.tokenize("sks") == ["sks</w>"]
    assert tok.tokenize("A photo of sks") == ["a</w>", "photo</w>", "of</w>", "sks</w>"]
    pieces = tok.tokenize("zorblax")
    assert len(pieces) > 1
    assert "".join(pieces).removesuffix("</w>") == "zorblax"
    assert tok.unk_token_id not in tok.convert_tokens_to_ids(pieces)
    ids = tok("a photo of sks").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id and len(ids) == 6


# -- loading and its errors -----------------------------------------------------------------------------


def make_four_channel_copy(tiny_folder: Path, dest: Path) -> Path:
    """A text-to-image (4-channel UNet) pipeline folder: the tiny one with conv_in cut to 4 channels."""
    shutil.copytree(tiny_folder, dest)
    config_path = dest / "unet" / "config.json"
    config = json.loads(config_path.read_text())
    config["in_channels"] = 4
    config_path.write_text(json.dumps(config))
    (weights_path,) = (dest / "unet").glob("*.safetensors")
    weights = load_file(weights_path)
    weights["conv_in.weight"] = weights["conv_in.weight"][:, :4].contiguous()
    save_file(weights, weights_path, metadata={"format": "pt"})
    return dest


def test_rejects_a_four_channel_unet_naming_the_folder(tiny_folder: Path, tmp_path: Path) -> None:
    folder = make_four_channel_copy(tiny_folder, tmp_path / "txt2img")
    with pytest.raises(BaseModelError, match="4 input channels.*9") as info:
        load_inpaint_pipeline(folder)
    assert str(folder) in str(info.value)
    with pytest.raises(BaseModelError, match="4 input channels"):
        load_inpaint_pipeline(str(folder))


def test_missing_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hub(*args, **kwargs):
        raise AssertionError(f"a local path went to the hub: {args}")

    # decided locally: a path is never sent to the hub as an id
    monkeypatch.setattr(model_loading, "fetch_pipeline_folder", no_hub)
    missing = tmp_path / "models" / "sd2-inpainting"
    for spec in (missing, str(missing)):
        with pytest.raises(BaseModelError, match="does not exist") as info:
            load_inpaint_pipeline(spec)
        assert str(missing) in str(info.value)


def test_folder_without_model_index_is_a_clear_error(tiny_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "unet_only"
    shutil.copytree(tiny_folder / "unet", folder)
    with pytest.raises(BaseModelError, match="no model_index.json") as info:
        load_inpaint_pipeline(folder)
    assert str(folder) in str(info.value)
    weights_file = next(folder.glob("*.safetensors"))
    with pytest.raises(BaseModelError, match="is a file") as info:
        load_inpaint_pipeline(weights_file)
    assert str(weights_file) in str(info.value)


def test_load_inpaint_pipeline_by_folder_equals_builtin(tiny_folder: Path, tiny_pipe) -> None:
    pipe = load_inpaint_pipeline(tiny_folder)
    assert pipe.unet.config.in_channels == 9
    assert all(
        torch.equal(a, b)
        for a, b in zip(pipe.unet.state_dict().values(), tiny_pipe.unet.state_dict().values(), strict=True)
    )


# -- fingerprint ----------------------------------------------------------------------------------------


def test_model_fingerprint_is_stable_and_tracks_the_architecture(
    tiny_folder: Path, tiny_pipe, tmp_path: Path
) -> None:
    fp = model_fingerprint(tiny_pipe.unet.config, tiny_pipe.text_encoder.config)
    assert BaseModelRef(id="builtin:tiny", fingerprint=fp).fingerprint == fp  # a valid card field
    # the same architecture loaded again from another path: same fingerprint (paths are not architecture)
    copy = Path(shutil.copytree(tiny_folder, tmp_path / "copy"))
    other = load_inpaint_pipeline(copy)
    assert model_fingerprint(other.unet.config, other.text_encoder.config) == fp
    assert model_fingerprint(dict(tiny_pipe.unet.config), tiny_pipe.text_encoder.config) == fp

    # any change of the UNet or text-encoder architecture changes it
    unet_changes = {
        "in_channels": 4,
        "cross_attention_dim": 64,
        "block_out_channels": [32, 128],
        "attention_head_dim": 4,
    }
    for key, value in unet_changes.items():
        changed = {**dict(tiny_pipe.unet.config), key: value}
        assert model_fingerprint(changed, tiny_pipe.text_encoder.config) != fp, key
    text_config = tiny_pipe.text_encoder.config.to_dict()
    for key, value in {"hidden_size": 64, "num_hidden_layers": 3, "vocab_size": 1000}.items():
        assert model_fingerprint(tiny_pipe.unet.config, {**text_config, key: value}) != fp, key


# -- conditioning helpers -------------------------------------------------------------------------------


def test_latent_mask_keeps_a_single_pixel() -> None:
    mask = torch.zeros(1, 1, 64, 64)
    mask[0, 0, 37, 13] = 1.0
    small = latent_mask(mask, (8, 8))
    expected = torch.zeros(1, 1, 8, 8)
    expected[0, 0, 37 // 8, 13 // 8] = 1.0
    assert torch.equal(small, expected)
    # nearest-neighbour downsampling (the stock pipeline's) loses it: the reason for max-pooling
    assert F.interpolate(mask, size=(8, 8)).sum() == 0


def test_latent_mask_is_a_blockwise_any() -> None:
    rng = np.random.default_rng(0)
    masks = rng.random((3, 1, 48, 40)) > 0.97
    small = latent_mask(torch.from_numpy(masks.astype(np.float32)), (6, 5)).numpy()
    brute = np.zeros((3, 1, 6, 5), dtype=np.float32)
    for b in range(3):
        for i in range(6):
            for j in range(5):
                brute[b, 0, i, j] = masks[b, 0, i * 8 : (i + 1) * 8, j * 8 : (j + 1) * 8].any()
    np.testing.assert_array_equal(small, brute)


def test_masked_image_makes_the_hole_zero() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    mask = np.zeros((16, 16), dtype=bool)
    mask[3:9, 5:12] = True
    images = pil_to_tensor([Image.fromarray(pixels)])
    np.testing.assert_allclose(images[0].permute(1, 2, 0).numpy(), pixels / 127.5 - 1.0, atol=1e-6)
    out = masked_image(images, masks_to_tensor([mask]))[0].permute(1, 2, 0).numpy()
    assert np.all(out[mask] == 0.0)
    np.testing.assert_array_equal(out[~mask], (images[0].permute(1, 2, 0).numpy())[~mask])
    # a soft mask is cut at 0.5, as in the pipeline
    soft = torch.full((1, 1, 16, 16), 0.49)
    assert torch.equal(masked_image(images, soft), images)
    assert torch.all(masked_image(images, torch.full((1, 1, 16, 16), 0.5)) == 0)


def test_token_positions(tiny_pipe) -> None:
    tok = tiny_pipe.tokenizer
    sks_id = tok.convert_tokens_to_ids("sks</w>")
    assert token_piece_ids(tok, "sks") == [sks_id]

    ids = tokenize(tok, ["A photo of sks", "sks on a wall"])
    assert ids.shape == (2, tok.model_max_length)
    assert token_positions(tok, ids[0], "sks") == [4]  # BOS, a, photo, of, sks
    assert token_positions(tok, ids[1], "sks") == [1]  # right after BOS
    assert ids[0, 4] == sks_id

    pieces = token_piece_ids(tok, "zorblax")
    assert len(pieces) > 1
    ids = tokenize(tok, ["a zorblax with zorblax"])[0]
    positions = token_positions(tok, ids, "zorblax")
    assert positions == list(range(2, 2 + len(pieces)))  # every piece of the first occurrence
    assert ids[positions].tolist() == pieces

    with pytest.raises(ValueError, match="'sks'"):
        token_positions(tok, tokenize(tok, ["a photo of a wall"])[0], "sks")


def test_unet_input_channel_order() -> None:
    x_t = torch.full((2, 4, 3, 3), 1.0)
    mask = torch.full((2, 1, 3, 3), 2.0)
    masked = torch.full((2, 4, 3, 3), 3.0)
    out = unet_input(x_t, mask, masked)
    assert out.shape == (2, 9, 3, 3)
    assert out[:, :, 0, 0].tolist() == [[1.0] * 4 + [2.0] + [3.0] * 4] * 2


def test_unet_input_matches_what_the_diffusers_pipeline_feeds_its_unet(
    tiny_pipe, one_torch_thread: None
) -> None:
    """Capture the UNet input of one stock pipeline step and rebuild it with our helpers."""
    pipe = tiny_pipe
    rng = np.random.default_rng(2)
    image = Image.fromarray(rng.integers(0, 256, (TINY_SIZE, TINY_SIZE, 3), dtype=np.uint8))
    mask = np.zeros((TINY_SIZE, TINY_SIZE), dtype=bool)
    mask[16:40, 8:32] = True  # aligned to the 8-pixel latent grid: nearest and max-pool agree
    latents = torch.randn(1, 4, TINY_SIZE // 8, TINY_SIZE // 8, generator=torch.Generator().manual_seed(3))

    captured: list[torch.Tensor] = []
    hook = pipe.unet.register_forward_pre_hook(lambda module, args: captured.append(args[0].detach().clone()))
    try:
        pipe(
            prompt="a photo of sks",
            image=image,
            mask_image=Image.fromarray(mask),
            height=TINY_SIZE,
            width=TINY_SIZE,
            num_inference_steps=1,
            guidance_scale=1.0,
            latents=latents.clone(),
            generator=torch.Generator().manual_seed(4),
        )
    finally:
        hook.remove()
    (seen,) = captured

    images = pil_to_tensor([image])
    masks = masks_to_tensor([mask])
    ours = unet_input(
        latents * pipe.scheduler.init_noise_sigma,
        latent_mask(masks, latents.shape[-2:]),
        encode_latents(pipe.vae, masked_image(images, masks), generator=torch.Generator().manual_seed(4)),
    )
    assert seen.shape == ours.shape == (1, 9, TINY_SIZE // 8, TINY_SIZE // 8)
    torch.testing.assert_close(seen[:, :4], ours[:, :4])
    torch.testing.assert_close(seen[:, 4:5], ours[:, 4:5], atol=0, rtol=0)
    torch.testing.assert_close(seen[:, 5:], ours[:, 5:], atol=1e-5, rtol=1e-4)


def test_fp16_load_keeps_an_upcast_vae_in_fp32_and_samples_finite_images(tiny_folder: Path) -> None:
    """SD-family VAEs (force_upcast in their config) overflow in fp16; the loader keeps them in fp32."""
    from defect_sample.sampler import DefectFillSampler

    pipe = load_inpaint_pipeline(tiny_folder, dtype=torch.float16)
    assert pipe.vae.config.force_upcast
    assert (pipe.vae.dtype, pipe.unet.dtype, pipe.text_encoder.dtype) == (
        torch.float32,
        torch.float16,
        torch.float16,
    )
    mask = np.zeros((64, 64), bool)
    mask[16:40, 16:40] = True
    out = DefectFillSampler.from_pipeline(pipe)(
        images=[Image.new("RGB", (64, 64), "gray")],
        masks=[mask],
        prompt="A photo of sks",
        num_inference_steps=3,
    )
    pixels = np.asarray(out.images[0][0])
    assert pixels.shape == (64, 64, 3) and pixels.std() > 0
