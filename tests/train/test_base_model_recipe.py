"""The small base-model recipe of issue 7 (part 1): data split, masks, EMA, both stages, their outputs (loss
log, pictures, manifest), resume, Ctrl-C, export."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import defect_train.base_model.unet_stage as unet_stage
import defect_train.base_model.vae_stage as vae_stage
from defect_core.configs import save_config
from defect_core.preview import overlay_mask
from defect_sample.conditioning import tensor_to_pil
from defect_train.base_model import ExportConfig, UnetStageConfig, VaeStageConfig, export_pipeline
from defect_train.base_model.__main__ import main as base_model_main
from defect_train.base_model.architecture import build_vae, inference_scheduler
from defect_train.base_model.ema import EmaWeights
from defect_train.base_model.inpainting_masks import inpainting_mask, inpainting_mask_batch
from defect_train.base_model.stage_pictures import held_out_crops, hole_mask
from defect_train.base_model.texture_data import TextureCrops, sample_crop_box, split_columns
from defect_train.base_model.unet_stage import train_unet
from defect_train.base_model.vae_stage import reconstruction_l1, texture_crops, train_vae
from defect_train.checkpoints import list_checkpoints
from defect_train.interrupt import TrainingInterrupted


def _tiny_vae_config(out: Path, **kw) -> VaeStageConfig:
    return VaeStageConfig(
        output_dir=out,
        resolution=32,
        crop_min_side=32,
        crop_max_side=96,
        block_out_channels=(8, 16, 16),
        norm_num_groups=8,
        batch_size=4,
        steps=2,
        warmup_steps=0,
        checkpoint_every=0,
        scaling_batches=1,
        preview_count=3,
        eval_crops=8,
        device="cpu",
        **kw,
    )


def _tiny_unet_config(out: Path, vae_dir: Path, **kw) -> UnetStageConfig:
    values = dict(
        vae_dir=vae_dir,
        output_dir=out,
        resolution=32,
        crop_min_side=32,
        crop_max_side=96,
        block_out_channels=(16, 32, 32),
        norm_num_groups=8,
        attention_head_dim=8,
        text_hidden_size=16,
        text_heads=2,
        batch_size=4,
        steps=4,
        warmup_steps=2,
        checkpoint_every=2,
        preview_count=3,
        preview_steps=2,
        device="cpu",
    )
    values.update(kw)
    return UnetStageConfig(**values)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A tiny stage-1 run of two steps (enough to be a real stage output)."""
    config = _tiny_vae_config(tmp_path_factory.mktemp("vae"))
    return config, train_vae(config)


@pytest.fixture(scope="module")
def vae_dir(vae_run) -> Path:
    return vae_run[1].model_dir


@pytest.fixture(scope="module")
def unet_run(tmp_path_factory, vae_dir):
    """An uninterrupted tiny stage-2 run of 4 steps (checkpoints at 2 and 4)."""
    config = _tiny_unet_config(tmp_path_factory.mktemp("unet"), vae_dir)
    return config, train_unet(config)


# ------------------------------------------------------------------------------------------------ data


def test_held_out_strip_is_the_right_quarter():
    assert split_columns(512, "train", 0.25) == (0, 384)
    assert split_columns(512, "held_out", 0.25) == (384, 512)
    # an odd width: the strip is rounded up, never down
    assert split_columns(101, "held_out", 0.25) == (101 - math.ceil(25.25), 101)


def test_training_crops_never_overlap_the_held_out_region():
    # photographs whose held-out columns are white and the rest black: any training crop that touches the
    # strip (even by one column, even after resizing) shows a non-black pixel
    photos = {}
    for name, (h, w) in {"a": (100, 120), "b": (64, 203)}.items():
        photo = np.zeros((h, w, 3), np.uint8)
        photo[:, w - math.ceil(0.25 * w) :] = 255
        photos[name] = photo
    crops = TextureCrops(photos, size=16, min_side=8, max_side=300)
    rng = np.random.default_rng(0)
    train, surfaces = crops.draw(rng, 300, "train")
    assert train.shape == (300, 3, 16, 16) and set(surfaces) == {"a", "b"}
    assert torch.all(train == -1.0)
    held_out, _ = crops.draw(rng, 100, "held_out")
    assert torch.all(held_out == 1.0)
    for _ in range(500):
        y0, x0, y1, x1 = sample_crop_box((100, 120), "train", rng, 8, 300)
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 100 and y1 - y0 == x1 - x0


def test_shipped_photographs_load_as_rgb():
    crops = TextureCrops.from_surfaces(("brick", "grass", "gravel"), size=32, min_side=64, max_side=128)
    images, surfaces = crops.draw(np.random.default_rng(1), 6)
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.05
    assert set(surfaces) <= {"brick", "grass", "gravel"}


# ----------------------------------------------------------------------------------------------- masks


def test_masks_are_binary_never_empty_and_sometimes_the_whole_image():
    rng = np.random.default_rng(0)
    masks = [inpainting_mask((32, 48), rng, full_prob=0.25, stroke_prob=0.4) for _ in range(400)]
    assert all(m.dtype == bool and m.shape == (32, 48) and m.any() for m in masks)
    whole = sum(bool(m.all()) for m in masks)
    # binomial(400, 0.25): mean 100, sd 8.7; partial strokes and boxes never cover everything
    assert 65 <= whole <= 135
    assert sum(0 < m.mean() < 1 for m in masks) == 400 - whole
    assert all(
        m.all() for m in (inpainting_mask((16, 16), rng, full_prob=1.0, stroke_prob=0.0) for _ in range(5))
    )
    assert not any(
        m.all() for m in (inpainting_mask((32, 32), rng, full_prob=0.0, stroke_prob=1.0) for _ in range(20))
    )
    batch = inpainting_mask_batch(8, 32, rng)
    assert batch.shape == (8, 1, 32, 32) and set(batch.unique().tolist()) <= {0.0, 1.0}


# ------------------------------------------------------------------------------------------------- EMA


def test_ema_update_equals_the_hand_formula():
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    start = {n: p.detach().clone() for n, p in module.named_parameters()}
    ema = EmaWeights(module, decay=0.9)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)
    # step 0: warm-up decay min(0.9, 1 / 10) = 0.1
    assert ema.update(module, step=0) == pytest.approx(0.1)
    expected = {n: 0.1 * start[n] + 0.9 * p.detach() for n, p in module.named_parameters()}
    for n in expected:
        torch.testing.assert_close(ema.shadow[n], expected[n])
    # step 100: min(0.9, 101 / 110) = 0.9
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(-2.0)
    assert ema.update(module, step=100) == pytest.approx(0.9)
    for n, p in module.named_parameters():
        torch.testing.assert_close(ema.shadow[n], 0.9 * expected[n] + 0.1 * p.detach())
    ema.copy_to(module)
    for n, p in module.named_parameters():
        assert torch.equal(p.detach(), ema.shadow[n])


# -------------------------------------------------------------------------------------------- stages


def test_vae_stage_lowers_reconstruction_l1(tmp_path):
    config = replace(_tiny_vae_config(tmp_path / "vae"), steps=40, learning_rate=2e-3)
    fixed, _ = TextureCrops.from_surfaces(config.surfaces, 32, 32, 96).draw(
        np.random.default_rng(7), 8, "held_out"
    )
    torch.manual_seed(config.seed)
    before = reconstruction_l1(build_vae(config).eval(), fixed)
    result = train_vae(config)
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(result.model_dir).eval()
    after = reconstruction_l1(vae, fixed)
    assert after < 0.7 * before, (before, after)
    assert len(result.losses) == 40 and all(math.isfinite(v) for v in result.losses)
    assert vae.config.scaling_factor > 0 and vae.config.scaling_factor != 0.18215
    assert (tmp_path / "vae" / "config.toml").is_file()


def test_unet_stage_runs_with_finite_loss(unet_run):
    config, result = unet_run
    assert len(result.losses) == config.steps
    assert all(math.isfinite(v) and v > 0 for v in result.losses)
    for folder in ("unet", "unet_ema", "text_encoder", "tokenizer"):
        assert (config.output_dir / folder).is_dir()
    assert (config.output_dir / "config.toml").is_file()


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(next(folder.glob("*.safetensors"))))


def test_resume_gives_bitwise_the_same_weights(unet_run, vae_dir, tmp_path):
    config, result = unet_run
    interrupted = _tiny_unet_config(tmp_path / "resumed", vae_dir, steps=2)
    train_unet(interrupted)
    resumed = train_unet(replace(interrupted, steps=4, resume=True))
    assert resumed.losses == result.losses[2:]
    # the loss log continues: the rows of the uninterrupted run, none twice
    assert (interrupted.output_dir / "loss.csv").read_text() == (config.output_dir / "loss.csv").read_text()
    for folder in ("unet", "unet_ema", "text_encoder"):
        a, b = _weights(config.output_dir / folder), _weights(interrupted.output_dir / folder)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), folder
    # the EMA differs from the raw weights: it really is an average
    raw, ema = _weights(config.output_dir / "unet"), _weights(config.output_dir / "unet_ema")
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)


# ------------------------------------------------------------------------------ stage outputs, Ctrl-C


def _loss_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "loss.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _tile(grid: Image.Image, row: int, col: int, cell: int = 128) -> np.ndarray:
    """Cell (row, col) of a defect_core.preview grid: 2 px gaps, a 16 px header."""
    x, y = 2 + col * (cell + 2), 16 + 2 + row * (cell + 2)
    return np.asarray(grid.crop((x, y, x + cell, y + cell)), dtype=np.int16)


def _assert_tile(grid: Image.Image, row: int, col: int, image: Image.Image, tol: int = 0) -> None:
    expected = np.asarray(image.convert("RGB").resize((128, 128)), dtype=np.int16)
    assert np.abs(_tile(grid, row, col) - expected).max() <= tol, (row, col)


def test_vae_stage_writes_loss_log_reconstructions_and_manifest(vae_run):
    from diffusers import AutoencoderKL

    config, result = vae_run
    run = config.output_dir
    rows = _loss_rows(run)
    assert list(rows[0]) == ["step", "loss", "l1", "kl", "lr"]
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert [float(r["loss"]) for r in rows] == result.losses  # written with repr: read back bitwise
    for r in rows:
        # the loss is L1 + kl_weight * KL (a float32 sum, recomputed here in float64)
        assert float(r["loss"]) == pytest.approx(float(r["l1"]) + config.kl_weight * float(r["kl"]), rel=1e-6)
        assert float(r["kl"]) > 0 and float(r["lr"]) == config.learning_rate  # no warm-up
    with Image.open(run / "loss.png") as plot:
        assert plot.size == (640, 480)

    vae = AutoencoderKL.from_pretrained(result.model_dir).eval()
    crops, _ = held_out_crops(texture_crops(config), config.eval_crops, config.seed)
    with torch.no_grad():
        recon = vae.decode(vae.encode(crops).latent_dist.mode()).sample
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stage"] == "vae" and manifest["steps"] == 2 and manifest["resumed_from_step"] == 0
    assert manifest["final_loss"] == result.losses[-1] and manifest["seconds"] > 0
    assert manifest["held_out_reconstruction_l1"] == pytest.approx(
        float((recon - crops).abs().mean()), rel=1e-5
    )
    assert manifest["held_out_crops"] == 8
    assert manifest["parameters"] == {"vae": sum(p.numel() for p in vae.parameters())}
    assert manifest["data"]["surfaces"] == ["brick", "grass", "gravel"]
    assert manifest["data"]["held_out_fraction"] == 0.25
    assert manifest["versions"] == {
        n: version(n) for n in ("torch", "diffusers", "transformers", "defect-train")
    }
    assert Path(manifest["model_dir"]) == result.model_dir.resolve()

    with Image.open(run / "reconstructions.png") as picture:
        grid = picture.convert("RGB")
    assert grid.size == (2 * 130 + 2, 16 + 3 * 130 + 2)  # preview_count rows of crop | reconstruction
    for row, (crop, rec) in enumerate(zip(tensor_to_pil(crops[:3]), tensor_to_pil(recon[:3]), strict=True)):
        _assert_tile(grid, row, 0, crop)
        _assert_tile(grid, row, 1, rec, tol=2)


def test_unet_stage_writes_loss_log_fills_and_manifest(unet_run, vae_dir):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from defect_sample.sampler import DefectFillSampler

    config, result = unet_run
    run = config.output_dir
    rows = _loss_rows(run)
    assert list(rows[0]) == ["step", "loss", "lr"]
    assert [float(r["loss"]) for r in rows] == result.losses
    # the rate each step used: warm-up over 2 steps, factor k / (warmup + 1) at step k, then 1
    assert [float(r["lr"]) for r in rows] == pytest.approx([5e-4 / 3, 5e-4 * 2 / 3, 5e-4, 5e-4], rel=1e-12)
    assert (run / "loss.png").is_file()

    unet = UNet2DConditionModel.from_pretrained(run / "unet_ema").eval()
    text_encoder = CLIPTextModel.from_pretrained(run / "text_encoder").eval()
    manifest = json.loads((run / "manifest.json").read_text())
    assert (
        manifest["stage"] == "unet" and manifest["steps"] == 4 and manifest["final_loss"] == result.losses[-1]
    )
    assert manifest["parameters"] == {
        "unet": sum(p.numel() for p in unet.parameters()),
        "text_encoder": sum(p.numel() for p in text_encoder.parameters()),
    }
    assert Path(manifest["vae_dir"]) == vae_dir.resolve() and Path(manifest["model_dir"]) == run.resolve()
    assert (
        manifest["data"]["surfaces"] == ["brick", "grass", "gravel"]
        and manifest["files"]["picture"] == "fills.png"
    )

    # the model card's hole is 24 x 32 px at rows 20:44, columns 16:48 of a 64 px crop; at 32 px half that
    card, hole = np.zeros((64, 64), bool), np.zeros((32, 32), bool)
    card[20:44, 16:48] = True
    hole[10:22, 8:24] = True
    assert np.array_equal(hole_mask(64), card) and np.array_equal(hole_mask(32), hole)

    # fills.png shows what the saved EMA UNet, text encoder and VAE fill in, one crop at a time here
    sampler = DefectFillSampler(
        AutoencoderKL.from_pretrained(vae_dir),
        text_encoder,
        CLIPTokenizer.from_pretrained(run / "tokenizer"),
        unet,
        inference_scheduler(),
    )
    crops, surfaces = held_out_crops(texture_crops(config), config.preview_count, config.seed)
    with Image.open(run / "fills.png") as picture:
        grid = picture.convert("RGB")
    assert grid.size == (3 * 130 + 2, 16 + 3 * 130 + 2)
    for i, (crop, surface) in enumerate(zip(tensor_to_pil(crops), surfaces, strict=True)):
        fill = sampler(
            images=[crop],
            masks=[hole],
            prompt=f"a photo of {surface}",
            num_inference_steps=config.preview_steps,
            seed=config.seed + i,
        ).images[0][0]
        _assert_tile(grid, i, 0, crop)
        _assert_tile(grid, i, 1, overlay_mask(crop, hole))
        _assert_tile(grid, i, 2, fill, tol=2)


def test_ctrl_c_checkpoints_the_step_and_resume_reaches_the_same_weights(
    unet_run, vae_dir, tmp_path, monkeypatch
):
    config, result = unet_run
    interrupted = _tiny_unet_config(tmp_path / "ctrl-c", vae_dir, checkpoint_every=0)
    original = unet_stage._inpainting_loss
    calls = {"n": 0}

    def loss_then_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # during step 3, as if the user pressed Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(unet_stage, "_inpainting_loss", loss_then_interrupt)
    with pytest.raises(TrainingInterrupted, match=r"step 3.*--resume"):
        train_unet(interrupted)
    run = interrupted.output_dir
    assert [p.name for p in list_checkpoints(run)] == ["step-000003"]
    full_log = (config.output_dir / "loss.csv").read_text()
    assert (run / "loss.csv").read_text().splitlines() == full_log.splitlines()[:4]  # header + steps 1-3
    assert not (run / "manifest.json").exists() and not (run / "unet_ema").exists()

    monkeypatch.setattr(unet_stage, "_inpainting_loss", original)
    resumed = train_unet(replace(interrupted, resume=True))
    assert resumed.losses == result.losses[3:]
    assert (run / "loss.csv").read_text() == full_log
    for folder in ("unet", "unet_ema", "text_encoder"):
        a, b = _weights(config.output_dir / folder), _weights(run / folder)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), folder
    assert json.loads((run / "manifest.json").read_text())["resumed_from_step"] == 3


def test_cli_ctrl_c_prints_the_command_that_finishes_the_stage(vae_run, tmp_path, monkeypatch, capsys):
    config, _ = vae_run
    run = tmp_path / "vae"
    save_config(replace(config, output_dir=run), tmp_path / "vae.toml")
    original = vae_stage.add_random_marks

    def marks_then_interrupt(*args, **kwargs):
        monkeypatch.setattr(vae_stage, "add_random_marks", original)
        os.kill(os.getpid(), signal.SIGINT)  # during step 1
        return original(*args, **kwargs)

    monkeypatch.setattr(vae_stage, "add_random_marks", marks_then_interrupt)
    assert base_model_main(["train-vae", "--config", str(tmp_path / "vae.toml")]) == 130
    err = capsys.readouterr().err
    assert "train-vae interrupted at step 1" in err
    assert [p.name for p in list_checkpoints(run)] == ["step-000001"]
    assert not (run / "vae").exists()
    command = err.split("Continue with: python -m defect_train.base_model ")[1].splitlines()[0].split()
    assert command == ["train-vae", "--config", str(run / "config.toml"), "--resume"]
    assert base_model_main(command) == 0
    assert str(run / "manifest.json") in capsys.readouterr().out
    # bitwise the rows of the uninterrupted run of the same config
    assert (run / "loss.csv").read_text() == (config.output_dir / "loss.csv").read_text()
    assert (run / "reconstructions.png").is_file()


# ------------------------------------------------------------------------------------------------ export


def test_export_loads_through_the_normal_loader_and_generates(unet_run, vae_dir, tmp_path):
    from defect_sample.model_loading import load_inpaint_pipeline

    config, _ = unet_run
    out = export_pipeline(ExportConfig(vae_dir=vae_dir, unet_dir=config.output_dir, output=tmp_path / "pipe"))
    saved = _weights(out / "unet")
    assert all(t.dtype == torch.float16 for t in saved.values())
    ema = _weights(config.output_dir / "unet_ema")
    assert all(torch.equal(saved[k], ema[k].half()) for k in ema)
    assert (out / "training" / "unet_stage.toml").is_file()

    pipe = load_inpaint_pipeline(out)
    assert pipe.unet.config.in_channels == 9
    image = Image.fromarray(np.full((64, 64, 3), 128, np.uint8))
    mask = np.zeros((64, 64), np.uint8)
    mask[16:40, 20:44] = 255
    result = pipe(
        prompt="a photo of brick",
        image=image,
        mask_image=Image.fromarray(mask),
        height=64,
        width=64,
        num_inference_steps=2,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
    )
    assert result.images.shape == (1, 64, 64, 3)
    assert np.isfinite(result.images).all() and result.images.min() >= 0 and result.images.max() <= 1


# -------------------------------------------------------------------------------------------- config, CLI


def test_config_errors_name_the_field_and_the_value():
    with pytest.raises(ValueError, match=r"VaeStageConfig.resolution=30"):
        VaeStageConfig(resolution=30)
    with pytest.raises(ValueError, match=r"UnetStageConfig.mask_stroke_prob=0.9"):
        UnetStageConfig(mask_full_prob=0.25, mask_stroke_prob=0.9)
    with pytest.raises(ValueError, match=r"surfaces=\('marble',\)"):
        UnetStageConfig(surfaces=("marble",))
    with pytest.raises(ValueError, match=r"VaeStageConfig.eval_crops=4"):
        VaeStageConfig(eval_crops=4, preview_count=6)
    with pytest.raises(ValueError, match=r"UnetStageConfig.preview_steps=0"):
        UnetStageConfig(preview_steps=0)


def test_cli_help_states_the_cost_and_rejects_bad_values(capsys):
    with pytest.raises(SystemExit) as exit_info:
        base_model_main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "train-vae" in text and "train-unet" in text and "export" in text and "1500 steps" in text
    with pytest.raises(SystemExit) as exit_info:
        base_model_main(["train-unet", "--ema-decay", "1.5"])
    assert exit_info.value.code == 2
    assert "ema_decay=1.5" in capsys.readouterr().err
