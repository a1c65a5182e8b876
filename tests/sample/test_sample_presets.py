"""Zero-shot defaults are DIAG's, ``--preset diag`` sets DIAG's whole run, explicit settings override both;
the resolved values are what the run saves in config.toml and records per image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from defect_core.configs import load_toml, parse_config
from defect_core.images import load_mask
from defect_core.manifest import read_manifest
from defect_sample.cli import build_parser, main
from defect_sample.config import SampleConfig

# DIAG's published generation script (intelligolabs/DIAG, generate_augmented_images.py), typed here by hand
DIAG = {
    "base_model": "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    "candidates": 1,
    "select": "none",
    "steps": 30,
    "guidance": 20.0,
    "strength": 0.99,
    "negative_prompt": "smooth, plain, black, dark, shadow",
    "padding_mask_crop": 2,
    "working_size": (1024, 1024),
    "output_size": (224, 632),  # W x H: KSDD2's size
    "scheduler": "model",  # the pipeline as loaded: SDXL inpainting's Euler
    "dtype": "auto",  # float16 on CUDA
}


def values(config: SampleConfig, names) -> dict:
    return {name: getattr(config, name) for name in names}


def test_diag_preset_resolves_every_setting_of_diags_run(tmp_path):
    config = SampleConfig(
        out=tmp_path, preset="diag", prompt="white marks on the wall", normals=tmp_path, shapes=("blob",)
    )
    assert values(config, DIAG) == DIAG
    assert config.mask_crop_padding == 2 and config.resolution is None


def test_zero_shot_defaults_are_diags_and_concept_defaults_defectfills(tmp_path):
    zero_shot = SampleConfig(
        out=tmp_path, prompt="copper metal scratches", base_model="m", normals=tmp_path, shapes=("blob",)
    )
    names = ("candidates", "select", "steps", "guidance", "strength", "negative_prompt")
    assert values(zero_shot, names) == {k: DIAG[k] for k in names}
    # the preset's extras stay off without it: DefectFill's sampler, the working size from --resolution
    assert (zero_shot.scheduler, zero_shot.mask_crop_padding, zero_shot.working_size) == ("ddim", None, ())

    concept = SampleConfig(
        out=tmp_path, concept=(tmp_path / "c.safetensors",), normals=tmp_path, shapes=("blob",)
    )
    assert values(concept, names) == {
        "candidates": 8,
        "select": "lpips",
        "steps": 50,
        "guidance": 1.0,
        "strength": 1.0,
        "negative_prompt": None,
    }


def test_explicit_flags_and_config_file_override_the_preset(tmp_path):
    base = ["--out", str(tmp_path), "--normals", str(tmp_path), "--shapes", "blob", "--prompt", "marks"]
    config, _ = parse_config(
        SampleConfig,
        [*base, "--preset", "diag", "--steps", "10", "--negative-prompt", "", "--padding-mask-crop", "-1"]
        + ["--resolution", "512", "--scheduler", "ddim", "--candidates", "4", "--select", "psnr"],
        build_parser(),
    )
    assert (config.steps, config.negative_prompt, config.scheduler) == (10, "", "ddim")
    assert (config.candidates, config.select) == (4, "psnr")
    assert config.mask_crop_padding is None  # a negative margin turns the preset's crop off
    assert (config.resolution, config.working_size) == (512, ())  # --resolution replaces the preset's size
    # what was not given stays the preset's
    assert (config.strength, config.guidance, config.output_size) == (0.99, 20.0, (224, 632))
    assert config.base_model == DIAG["base_model"]

    toml = tmp_path / "run.toml"
    toml.write_text('preset = "diag"\nstrength = 0.5\nworking_size = [512, 256]\n')
    config, _ = parse_config(SampleConfig, [*base, "--config", str(toml), "--guidance", "7"], build_parser())
    assert (config.strength, config.working_size, config.guidance, config.steps) == (0.5, (512, 256), 7.0, 30)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "diag", "--concept", "c.safetensors"], "needs --prompt"),
        (["--preset", "sdxl"], "invalid choice"),
        (["--prompt", "x", "--base-model", "m", "--strength", "0"], "must be in (0, 1]"),
        (["--prompt", "x", "--base-model", "m", "--steps", "1"], "int(1 * 0.99) = 0 steps"),
        (["--prompt", "x", "--base-model", "m", "--working-size", "100", "64"], "multiples of 8"),
        (
            ["--prompt", "x", "--base-model", "m", "--working-size", "64", "64", "--resolution", "64"],
            "not both",
        ),
        (["--prompt", "x", "--base-model", "m", "--output-size", "64"], "need W H"),
    ],
)
def test_bad_settings_exit_2_naming_the_setting(tmp_path, argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--out", str(tmp_path), "--normals", str(tmp_path), "--shapes", "star", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def _grown(mask: np.ndarray, pixels: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-pixels, pixels + 1):
        for dx in range(-pixels, pixels + 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def test_cli_preset_diag_run_on_tiny_xl_saves_the_resolved_config_and_diags_sizes(
    tmp_path, normals_dir, masks_dir, xl_pipe, capsys
):
    out = tmp_path / "diag"
    code = main(
        ["--preset", "diag", "--prompt", "white marks on the wall", "--base-model", "builtin:tiny-xl"]
        + ["--normals", str(normals_dir), "--masks", str(masks_dir), "--count", "2", "--out", str(out)]
        # toy sizes and steps for the tiny model; everything else is the preset's
        + ["--working-size", "64", "64", "--output-size", "24", "40", "--steps", "3", "--device", "cpu", "-q"]
    )
    assert code == 0, capsys.readouterr().err
    saved = load_toml(out / "config.toml")  # the resolved settings beside the outputs
    assert saved["preset"] == "diag"
    for name in ("candidates", "select", "guidance", "strength", "negative_prompt", "padding_mask_crop"):
        assert saved[name] == DIAG[name], name
    assert (saved["scheduler"], saved["steps"]) == ("model", 3)
    assert (saved["working_size"], saved["output_size"]) == ([64, 64], [24, 40])

    records = read_manifest(out / "manifest.jsonl")
    assert len(records) == 2
    for record in records:
        settings = record.sampler
        assert (settings["strength"], settings["steps_run"], settings["padding_mask_crop"]) == (0.99, 2, 2)
        assert (settings["scheduler"], settings["guidance_scale"], settings["candidates"]) == (
            "EulerDiscrete",
            20.0,
            1,
        )
        assert (settings["working_size"], settings["size"]) == ([64, 64], [24, 40])
        assert settings["negative_prompt"] == DIAG["negative_prompt"]
        assert record.selection_metric == "none" and record.scores == ()
        with Image.open(record.image) as im:
            image = np.asarray(im.convert("RGB"), dtype=int)
        mask = load_mask(record.mask)
        assert image.shape == (40, 24, 3) and mask.shape == (40, 24)
        # the pasted crop keeps the normal's pixels outside the mask, so after the same resize the output
        # equals the normal wherever bicubic's reach (2 output px, and one for rounding) misses the mask
        with Image.open(record.source_image) as im:
            expected = im.convert("RGB").resize((24, 40), Image.Resampling.BICUBIC)  # normals are 64 px
        far = ~_grown(mask, 3)
        assert far.sum() > 0.5 * far.size
        assert np.array_equal(image[far], np.asarray(expected, dtype=int)[far])
        assert np.abs(image - np.asarray(expected, dtype=int))[mask].mean() > 2  # generated inside
