"""Generation jobs end to end on builtin:tiny: layout, manifest, determinism, sharding, resume after SIGKILL,
several concepts, zero-shot, and the CLI's errors."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sample_helpers import box_mask

from defect_core.configs import load_toml
from defect_core.errors import InputFileError
from defect_core.images import list_images, load_mask
from defect_core.manifest import read_manifest
from defect_sample.cli import main
from defect_sample.config import SampleConfig
from defect_sample.generate import run_generation
from defect_sample.sampler import DefectFillSampler

FAST = dict(steps=2, candidates=2, select="psnr", device="cpu", dtype="float32")


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def outputs(out: Path) -> dict[str, np.ndarray]:
    """item id -> generated pixels, for every manifest record."""
    return {r.item_id: pixels(r.image) for r in read_manifest(out / "manifest.jsonl")}


def test_cli_writes_the_anomalib_folder_layout_with_manifest_preview_and_config(
    tmp_path, concept_files, normals_dir, capsys
):
    out = tmp_path / "out"
    code = main(
        [
            "--concept",
            str(concept_files["crack"]),
            "--normals",
            str(normals_dir),
            "--shapes",
            "ellipse,star",
            "--count",
            "3",
            "--candidates",
            "3",
            "--steps",
            "2",
            "--select",
            "psnr",
            "--keep-candidates",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert "3 image(s) written" in capsys.readouterr().out
    stems = sorted(p.stem for p in list_images(out / "defect"))
    assert stems == ["crack_00000", "crack_00001", "crack_00002"]
    assert sorted(p.stem for p in list_images(out / "mask")) == stems  # anomalib pairs them by stem
    assert (out / "preview.png").is_file() and (out / "config.toml").is_file()
    records = read_manifest(out / "manifest.jsonl")
    assert [r.item_id for r in records] == stems
    for r in records:
        assert r.concept == "tile/crack" and r.prompt is None and r.defect_name == "crack"
        assert (
            r.base_model == "builtin:tiny"
            and r.selection_metric == "psnr"
            and r.mask_source.startswith("shape:")
        )
        assert r.source_image.parent == normals_dir and len(r.scores) == 3
        assert r.candidate_index == int(np.argmin(r.scores))  # LFS: the lowest masked PSNR
        assert len(r.candidates) == 3 and all(c.is_file() for c in r.candidates)
        assert np.array_equal(pixels(r.candidates[r.candidate_index]), pixels(r.image))
        mask_values = np.unique(np.asarray(Image.open(r.mask)))
        assert set(mask_values) <= {0, 255} and 255 in mask_values
        assert r.sampler["steps"] == 2 and r.sampler["prompt"] == "A photo of sks"
    # paths in the manifest are relative to its folder
    first = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
    assert first["image"] == "defect/crack_00000.png" and not first["source_image"].startswith("/")
    saved = load_toml(out / "config.toml")
    assert saved["count"] == 3 and saved["shapes"] == ["ellipse", "star"] and saved["steps"] == 2


def test_several_concepts_sharding_and_batch_size_give_the_same_images(
    tmp_path, tiny_defectfill, concept_files, normals_dir, masks_dir
):
    both = SampleConfig(
        out=tmp_path / "both",
        concept=(concept_files["crack"], concept_files["stain"]),
        normals=normals_dir,
        masks=masks_dir,
        count=2,
        batch_size=8,
        **FAST,
    )
    summary = run_generation(both, pipeline=tiny_defectfill, progress=False)
    assert (summary.planned, summary.written) == (4, 4)
    records = {r.item_id: r for r in read_manifest(both.out / "manifest.jsonl")}
    assert {r.defect_name for r in records.values()} == {"crack", "stain"}
    assert records["stain_00001"].concept == "tile/stain"

    # crack alone, split in two shards, one candidate row per UNet call: the crack images are identical
    for shard in ("0/2", "1/2"):
        crack = dataclasses.replace(
            both, out=tmp_path / "crack", concept=(concept_files["crack"],), shard=shard, batch_size=1
        )
        run_generation(crack, pipeline=tiny_defectfill, progress=False)
    split = outputs(tmp_path / "crack")
    assert sorted(split) == ["crack_00000", "crack_00001"]
    together = outputs(both.out)
    for item_id, image in split.items():
        assert np.abs(image.astype(int) - together[item_id]).max() <= 1, item_id
    # and the two concepts do differ
    assert np.abs(together["crack_00000"].astype(int) - together["stain_00000"]).mean() > 1


def test_resume_skips_finished_items_and_a_larger_count_adds_only_the_new_ones(
    tmp_path, tiny_defectfill, concept_files, normals_dir, masks_dir
):
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(concept_files["crack"],),
        normals=normals_dir,
        masks=masks_dir,
        count=2,
        **FAST,
    )
    assert run_generation(config, pipeline=tiny_defectfill, progress=False).written == 2
    stamps = {p.name: p.stat().st_mtime_ns for p in (config.out / "defect").iterdir()}
    again = run_generation(config, pipeline=tiny_defectfill, progress=False)
    assert (again.skipped, again.written) == (2, 0)
    more = run_generation(dataclasses.replace(config, count=3), pipeline=tiny_defectfill, progress=False)
    assert (more.skipped, more.written) == (2, 1)
    assert {
        p.name: p.stat().st_mtime_ns for p in (config.out / "defect").iterdir() if p.name in stamps
    } == stamps
    with pytest.raises(InputFileError, match=r"config.toml.*other settings.*seed: 0 -> 1"):
        run_generation(dataclasses.replace(config, seed=1), pipeline=tiny_defectfill, progress=False)


def test_processes_of_a_torchrun_or_accelerate_launch_split_the_plan(
    tmp_path, tiny_defectfill, concept_files, normals_dir, masks_dir, monkeypatch
):
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(concept_files["crack"],),
        normals=normals_dir,
        masks=masks_dir,
        count=3,
        **FAST,
    )
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    one = run_generation(config, pipeline=tiny_defectfill, progress=False)
    assert (one.planned, one.assigned, one.written) == (3, 1, 1)
    assert (
        not (config.out / "config.toml").exists() and not (config.out / "preview.png").exists()
    )  # rank 0's job
    monkeypatch.setenv("RANK", "0")
    zero = run_generation(config, pipeline=tiny_defectfill, progress=False)
    assert (zero.assigned, zero.written) == (2, 2)
    assert sorted(r.item_id for r in read_manifest(config.out / "manifest.jsonl")) == [
        "crack_00000",
        "crack_00001",
        "crack_00002",
    ]


def test_stale_temporary_files_of_a_killed_run_are_removed(tmp_path):
    from defect_sample.generate import remove_stale_temp_files

    (tmp_path / "defect").mkdir()
    old, fresh, output = (tmp_path / "defect" / n for n in (".a.png.tmp-1", ".b.png.tmp-2", "c.png"))
    for p in (old, fresh, output):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temp_files(tmp_path) == 1
    assert not old.exists() and fresh.exists() and output.exists()


def test_a_resumed_run_removes_its_own_temporary_files_at_once_and_nothing_else(
    tmp_path, tiny_defectfill, concept_files, normals_dir, masks_dir
):
    """A kill during the preview write leaves ``.preview.png.tmp-<pid>``; the resumed run (here seconds
    later, long before the age rule) removes it and its items' leftovers, and no other file."""
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(concept_files["crack"],),
        normals=normals_dir,
        masks=masks_dir,
        count=2,
        **FAST,
    )
    run_generation(config, pipeline=tiny_defectfill, progress=False)
    out = config.out
    stale = [
        out / ".preview.png.tmp-4242",
        out / ".config.toml.tmp-17",
        out / "defect" / ".crack_00001.png.tmp-4242",
        out / "candidates" / ".crack_00000_1.png.tmp-99",
    ]
    foreign = [
        out / "defect" / ".crack_00007.png.tmp-4242",  # an item of a larger plan: another process's
        out / ".preview.png.tmp-x",
        out / ".notes.tmp",
        out / "notes.txt",
        out / "defect" / "keep.png.tmp-1",
        out / "defect" / ".crack_00000.png.tmp-12.bak",
    ]
    for path in stale + foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a png")
    outputs_before = sorted(p for p in out.rglob("*") if p.is_file() and p not in stale + foreign)
    again = run_generation(config, pipeline=tiny_defectfill, progress=False)
    assert (again.skipped, again.written) == (2, 0)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in foreign)
    assert sorted(p for p in out.rglob("*") if p.is_file() and p not in foreign) == outputs_before


def test_owned_outputs_of_shards_and_ranks(tmp_path):
    """Only rank 0 of an unsharded run owns preview.png and config.toml; with shards they are shared, and
    another shard's fresh temporary file stays."""
    from defect_sample.generate import owned_outputs, remove_stale_temp_files
    from defect_sample.job_plan import WorkItem

    item = WorkItem(
        index=0, item_id="crack_00003", group=0, defect_name="crack", normal=tmp_path / "n.png", seed=1
    )
    assert owned_outputs(tmp_path, [item], 2, shared_files=True) == {
        tmp_path / "defect" / "crack_00003.png",
        tmp_path / "mask" / "crack_00003.png",
        tmp_path / "candidates" / "crack_00003_0.png",
        tmp_path / "candidates" / "crack_00003_1.png",
        tmp_path / "config.toml",
        tmp_path / "preview.png",
    }
    sharded = owned_outputs(tmp_path, [item], 2, shared_files=False)
    assert tmp_path / "preview.png" not in sharded
    (tmp_path / ".preview.png.tmp-5").write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path, sharded) == 0 and (tmp_path / ".preview.png.tmp-5").exists()


def _generate_in_child(config: SampleConfig, pipeline) -> None:
    import torch

    torch.set_num_threads(1)  # a forked child must not reuse the parent's OpenMP pool
    run_generation(config, pipeline=pipeline, progress=False)


def test_a_run_killed_with_sigkill_and_restarted_ends_with_exactly_count_intact_outputs(
    tmp_path, tiny_defectfill, concept_files, normals_dir, masks_dir
):
    count = 8
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(concept_files["crack"],),
        normals=normals_dir,
        masks=masks_dir,
        count=count,
        batch_size=2,
        **FAST,
    )
    manifest = config.out / "manifest.jsonl"
    child = multiprocessing.get_context("fork").Process(
        target=_generate_in_child, args=(config, tiny_defectfill)
    )
    child.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.is_alive():
        if manifest.is_file() and manifest.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.002)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert child.exitcode == -signal.SIGKILL
    done_before = len(read_manifest(manifest))
    assert 2 <= done_before < count  # really killed mid-way

    summary = run_generation(config, pipeline=tiny_defectfill, progress=False)
    assert summary.skipped == done_before and summary.written == count - done_before
    records = read_manifest(manifest)
    ids = [r.item_id for r in records]
    assert len(ids) == count == len(set(ids)) == len(manifest.read_text().strip().splitlines())
    for folder in ("defect", "mask"):
        files = list_images(config.out / folder)
        assert sorted(p.stem for p in files) == sorted(ids)
        for p in files:
            with Image.open(p) as im:
                im.load()  # a torn PNG raises here
    assert all(load_mask(r.mask).any() for r in records)


def test_zero_shot_uses_the_prompt_with_every_adapter_off(
    tmp_path, tiny_defectfill, base_pipe, normals_dir, masks_dir
):
    config = SampleConfig(
        out=tmp_path / "out",
        prompt="white marks on the wall",
        negative_prompt="smooth",
        base_model="builtin:tiny",
        normals=normals_dir,
        masks=masks_dir,
        count=1,
        guidance=3.0,
        defect_name="marks",
        **FAST,
    )
    tiny_defectfill.concepts.activate("tile/crack")  # whatever was active before must not leak in
    run_generation(config, pipeline=tiny_defectfill, progress=False)
    (record,) = read_manifest(config.out / "manifest.jsonl")
    assert record.prompt == "white marks on the wall" and record.concept is None
    assert record.item_id == "marks_00000" and record.sampler["guidance_scale"] == 3.0
    # zero-shot starts from the normal's latent at DIAG's strength: 2 steps * 0.99 run 1
    assert record.sampler["strength"] == 0.99 and record.sampler["steps_run"] == 1
    # the same item through the bare sampler on the base model
    normal = Image.open(record.source_image).convert("RGB")
    mask = load_mask(record.mask_source)
    expected = DefectFillSampler.from_pipeline(base_pipe)(
        images=[normal],
        masks=[mask],
        prompt="white marks on the wall",
        negative_prompt="smooth",
        num_candidates=2,
        num_inference_steps=2,
        guidance_scale=3.0,
        seed=[record.seed],
        strength=0.99,
    )
    chosen = np.asarray(expected.images[0][record.candidate_index], dtype=int)
    assert np.abs(pixels(record.image).astype(int) - chosen).max() <= 1


def test_pixel_composite_keeps_the_normal_pixels_outside_the_feathered_mask(
    tmp_path, tiny_defectfill, concept_files, normals_dir, masks_dir
):
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(concept_files["stain"],),
        normals=normals_dir,
        masks=masks_dir,
        count=1,
        pixel_composite=True,
        **FAST,
    )
    run_generation(config, pipeline=tiny_defectfill, progress=False)
    (record,) = read_manifest(config.out / "manifest.jsonl")
    mask = load_mask(record.mask)
    grown = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    grown[max(ys.min() - 2, 0) : ys.max() + 3, max(xs.min() - 2, 0) : xs.max() + 3] = True  # box masks
    generated, normal = pixels(record.image), pixels(record.source_image)
    assert np.array_equal(generated[~grown], normal[~grown])
    assert np.abs(generated[mask].astype(int) - normal[mask]).mean() > 1


def run_cli(*args: str) -> int:
    return main(
        [*args, "--device", "cpu", "--quiet", "--steps", "1", "--strength", "1", "--candidates", "1"]
        + ["--select", "psnr"]
    )


def test_cli_input_errors_name_the_file(tmp_path, concept_files, normals_dir, masks_dir, capsys, base_pipe):
    common = ["--concept", str(concept_files["crack"]), "--count", "1"]
    assert (
        run_cli(
            *common,
            "--normals",
            str(tmp_path / "nope"),
            "--masks",
            str(masks_dir),
            "--out",
            str(tmp_path / "o1"),
        )
        == 1
    )
    assert f"{tmp_path / 'nope'}: folder does not exist" in capsys.readouterr().err

    Image.fromarray(np.zeros((64, 64), np.uint8)).save(masks_dir / "empty.png")
    (normals_dir / "broken.png").write_bytes(b"not a png")
    assert (
        run_cli(
            *common,
            "--count",
            "6",
            "--normals",
            str(normals_dir),
            "--masks",
            str(masks_dir),
            "--out",
            str(tmp_path / "o2"),
        )
        == 1
    )
    err = capsys.readouterr().err
    assert (
        f"{masks_dir / 'empty.png'}: mask is empty" in err
        and f"{normals_dir / 'broken.png'}: cannot be read" in err
    )
    assert not (tmp_path / "o2" / "config.toml").exists()  # a failed start does not pin the folder's settings
    (masks_dir / "empty.png").unlink()
    (normals_dir / "broken.png").unlink()

    pickle = tmp_path / "concept.safetensors"
    pickle.write_bytes(b"\x80\x04" + b"\x00" * 64)
    assert (
        run_cli(
            "--concept",
            str(pickle),
            "--count",
            "1",
            "--normals",
            str(normals_dir),
            "--masks",
            str(masks_dir),
            "--out",
            str(tmp_path / "o3"),
        )
        == 1
    )
    assert f"{pickle}: this is a pickle" in capsys.readouterr().err

    assert (
        run_cli(
            "--prompt",
            "marks",
            "--base-model",
            str(tmp_path / "no_model"),
            "--normals",
            str(normals_dir),
            "--masks",
            str(masks_dir),
            "--count",
            "1",
            "--out",
            str(tmp_path / "o4"),
        )
        == 1
    )
    assert f"{tmp_path / 'no_model'}: model folder does not exist" in capsys.readouterr().err


def test_cli_lpips_without_weights_fails_before_loading_the_model_and_names_the_file(
    tmp_path, concept_files, normals_dir, masks_dir, capsys, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import defect_sample.pipeline as pipeline_module

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the selector")

    monkeypatch.setattr(pipeline_module, "load_base_model", no_model)
    code = main(
        [
            "--concept",
            str(concept_files["crack"]),
            "--normals",
            str(normals_dir),
            "--masks",
            str(masks_dir),
            "--select",
            "lpips",
            "--count",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 1
    assert (
        str(tmp_path / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth")
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--prompt", "x", "--concept", "c.safetensors"], "either --concept FILE"),
        ([], "either --concept FILE"),
        (["--prompt", "x"], "needs --base-model"),
        (["--prompt", "x", "--base-model", "m", "--shapes", "hexagon"], "unknown shape"),
        (["--prompt", "x", "--base-model", "m", "--shard", "2/2"], "0 <= i < n"),
        (["--prompt", "x", "--base-model", "m", "--resolution", "100"], "multiple of 8"),
        (["--prompt", "x", "--base-model", "m", "--shape-size", "0.5", "0.1"], "MIN MAX"),
    ],
)
def test_cli_config_errors_exit_2_naming_the_setting(tmp_path, argv, message, capsys):
    base = ["--out", str(tmp_path), "--normals", str(tmp_path), "--shapes", "star"]
    if "--shapes" in argv:
        base = base[:-2]
    with pytest.raises(SystemExit) as info:
        main(base + argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_config_file_sets_defaults_and_flags_override(tmp_path, capsys):
    from defect_core.configs import parse_config
    from defect_sample.cli import build_parser
    from defect_sample.config import SampleConfig as Config

    toml = tmp_path / "sample.toml"
    toml.write_text(
        'prompt = "marks"\nbase_model = "builtin:tiny"\nshapes = ["star"]\ncount = 5\nseed = 3\n'
        f'normals = "{tmp_path}"\nout = "{tmp_path / "o"}"\n'
    )
    config, _ = parse_config(Config, ["--config", str(toml), "--seed", "9"], build_parser())
    assert (config.count, config.seed, config.shapes, config.normals) == (5, 9, ("star",), tmp_path)
    # zero-shot (a prompt): DIAG's defaults, resolved into the config
    assert (config.candidates, config.select, config.steps, config.guidance, config.strength) == (
        1,
        "none",
        30,
        20.0,
        0.99,
    )
    assert config.negative_prompt == "smooth, plain, black, dark, shadow"
    toml.write_text('promt = "typo"\n')
    with pytest.raises(SystemExit):
        parse_config(Config, ["--config", str(toml)], build_parser())
    assert "unknown config key" in capsys.readouterr().err


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("defect-sample ")


def test_dataset_reader_gives_the_normals_and_the_held_out_masks(tmp_path, tiny_defectfill, concept_files):
    root = tmp_path / "mvtec"
    good = root / "tile" / "train" / "good"
    good.mkdir(parents=True)
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(good / "000.png")
    (root / "tile" / "test" / "crack").mkdir(parents=True)
    (root / "tile" / "ground_truth" / "crack").mkdir(parents=True)
    for i in range(3):  # first third (1 pair) trains, the other 2 are held out
        Image.fromarray(np.full((64, 64, 3), 60, np.uint8)).save(
            root / "tile" / "test" / "crack" / f"00{i}.png"
        )
        Image.fromarray(box_mask(8 * i, 8, 8 * i + 16, 40).astype(np.uint8) * 255).save(
            root / "tile" / "ground_truth" / "crack" / f"00{i}_mask.png"
        )
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(concept_files["crack"],),
        dataset="mvtec",
        dataset_root=root,
        object_name="tile",
        mask_split="held_out",
        count=2,
        **{**FAST, "candidates": 1},
    )
    run_generation(config, pipeline=tiny_defectfill, progress=False)
    records = read_manifest(config.out / "manifest.jsonl")
    held_out = {str(root / "tile" / "ground_truth" / "crack" / f"00{i}_mask.png") for i in (1, 2)}
    assert {r.mask_source for r in records} == held_out  # each held-out mask once (balanced), never 000
    assert all(r.source_image == good / "000.png" for r in records)
