"""``defect-sample defectgen`` end to end: the output layout, labels consistent with masks, shards and batch
sizes that give the same images, resume, and runs that must not mix in one folder."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from defectgen_helpers import CLASSES, tiny_unet, write_tiny_generator
from PIL import Image

from defect_core.class_labels import color_to_labels, load_labels
from defect_core.configs import load_toml
from defect_core.errors import InputFileError
from defect_core.images import load_mask
from defect_core.manifest import read_manifest
from defect_sample.cli import main
from defect_sample.defectgen import DefectGenSampleConfig, load_generator, run_defectgen, save_generator
from defect_sample.defectgen.generator_folder import file_sha256
from defect_sample.defectgen.two_stage import item_seed


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_generator(tmp_path_factory.mktemp("gen") / "generator")


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def test_cli_writes_images_masks_labels_manifest_preview_and_config(
    generator_dir: Path, tmp_path: Path, capsys
):
    out = tmp_path / "out"
    argv = [
        "defectgen",
        "--generator",
        str(generator_dir),
        "--count",
        "3",
        "--steps",
        "3",
        "--batch-size",
        "2",
    ]
    assert main([*argv, "--seed", "4", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    assert "3 image(s) written" in capsys.readouterr().out
    stems = ["bottle_00000", "bottle_00001", "bottle_00002"]
    for folder in ("defect", "mask", "labels", "labels_color"):
        assert sorted(p.stem for p in (out / folder).iterdir()) == stems, folder
    assert (out / "preview.png").is_file()
    records = read_manifest(out / "manifest.jsonl")
    assert [r.item_id for r in records] == stems
    hashes = {
        n: file_sha256(generator_dir / n / "diffusion_pytorch_model.safetensors") for n in ("large", "small")
    }
    present_classes = set()
    for j, r in enumerate(records):
        assert r.concept == "defectgen:bottle" and r.prompt is None and r.classes == CLASSES
        assert r.seed == item_seed(4, j) and r.mask_source == "defectgen"
        assert r.sampler["weights_sha256"] == hashes and r.sampler["switch_step"] == 400
        assert (r.sampler["scheduler"], r.sampler["steps"]) == ("DDIM", 3)
        labels = load_labels(r.labels)
        mask_values = np.unique(np.asarray(Image.open(r.mask)))
        assert set(mask_values) <= {0, 255}
        # the binary mask is the union of the classes, the colour file decodes to the same ids
        np.testing.assert_array_equal(load_mask(r.mask), labels > 0)
        np.testing.assert_array_equal(
            color_to_labels(pixels(out / "labels_color" / f"{r.item_id}.png").astype(np.uint8)), labels
        )
        counts = np.bincount(labels.ravel(), minlength=3)
        assert r.defect_name == (
            {1: "crack", 2: "hole"}[int(np.argmax(counts[1:])) + 1] if counts[1:].any() else "none"
        )
        present_classes |= set(np.unique(labels).tolist())
        assert pixels(r.image).shape == (32, 32, 3)
    assert present_classes == {0, 1, 2}  # the tiny networks' labels do vary, so the checks above bite
    saved = load_toml(out / "config.toml")
    assert saved["count"] == 3 and saved["steps"] == 3 and saved["seed"] == 4
    preview = Image.open(out / "preview.png")
    assert preview.width > 2 * 128  # image | overlay


def test_shards_and_batch_sizes_write_the_same_images(generator_dir: Path, tmp_path: Path):
    generator = load_generator(generator_dir)
    base = DefectGenSampleConfig(
        generator=generator_dir, out=tmp_path / "whole", count=4, steps=3, batch_size=4
    )
    run_defectgen(base, generator=generator, progress=False)
    for shard in ("0/2", "1/2"):
        split = dataclasses.replace(base, out=tmp_path / "split", shard=shard, batch_size=1)
        summary = run_defectgen(split, generator=generator, progress=False)
        assert (summary.planned, summary.assigned, summary.written) == (4, 2, 2)
    whole = {r.item_id: r for r in read_manifest(tmp_path / "whole" / "manifest.jsonl")}
    split_records = {r.item_id: r for r in read_manifest(tmp_path / "split" / "manifest.jsonl")}
    assert sorted(whole) == sorted(split_records)
    for item_id, r in whole.items():
        assert np.abs(pixels(r.image) - pixels(split_records[item_id].image)).max() <= 1, item_id
        assert (load_labels(r.labels) != load_labels(split_records[item_id].labels)).mean() < 0.01


def test_resume_skips_finished_items_and_refuses_other_settings_or_weights(
    generator_dir: Path, tmp_path: Path
):
    generator = load_generator(generator_dir)
    config = DefectGenSampleConfig(generator=generator_dir, out=tmp_path / "out", count=2, steps=2)
    assert run_defectgen(config, generator=generator, progress=False).written == 2
    first = pixels(tmp_path / "out" / "defect" / "bottle_00000.png")
    # a larger count resumes: the finished items are skipped, only the new ones are written
    more = dataclasses.replace(config, count=3, batch_size=3)
    summary = run_defectgen(more, generator=generator, progress=False)
    assert (summary.skipped, summary.written) == (2, 1)
    assert np.array_equal(pixels(tmp_path / "out" / "defect" / "bottle_00000.png"), first)
    assert len(read_manifest(tmp_path / "out" / "manifest.jsonl")) == 3
    # nothing left: the generator is not even loaded
    assert run_defectgen(more, progress=False).written == 0
    # other settings in the same folder: refused, naming the saved config
    with pytest.raises(InputFileError, match="seed: 0 -> 1") as info:
        run_defectgen(dataclasses.replace(more, seed=1, count=4), generator=generator, progress=False)
    assert info.value.path.name == "config.toml"
    # another generator saved at the same path: refused, naming the manifest
    retrained = Path(shutil.copytree(generator_dir, tmp_path / "retrained"))
    save_generator(retrained, tiny_unet(8, True), tiny_unet(9, False), generator.card)
    moved = dataclasses.replace(more, count=4)
    (tmp_path / "out" / "config.toml").write_text(
        (tmp_path / "out" / "config.toml").read_text().replace(str(generator_dir), str(retrained))
    )
    with pytest.raises(InputFileError, match="other weights") as info:
        run_defectgen(dataclasses.replace(moved, generator=retrained), progress=False)
    assert info.value.path.name == "manifest.jsonl"


def test_cli_errors_name_the_problem(tmp_path: Path, generator_dir: Path, capsys):
    assert main(["defectgen", "--generator", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert f"{tmp_path / 'missing'}: generator folder does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["defectgen", "--out", str(tmp_path / "o")])
    assert "--generator DIR" in capsys.readouterr().err
    code = main(
        [
            "defectgen",
            "--generator",
            str(generator_dir),
            "--out",
            str(tmp_path / "o"),
            "--switch-step",
            "1001",
            "-q",
        ]
    )
    assert code == 1 and "switch-step 1001" in capsys.readouterr().err
