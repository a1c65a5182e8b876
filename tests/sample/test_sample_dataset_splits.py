"""Which real masks and normal images ``defect-sample --dataset`` reads: KSDD2's two protocols
(``--mask-split held_out / train / all`` split the official ``train/`` folder, DefectFill's; ``test`` is the
official ``test/`` folder, DIAG's) and Defect Spectrum's defect-free images from ``--normals-root``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.configs import load_toml
from defect_core.manifest import read_manifest
from defect_sample.cli import build_parser, main
from defect_sample.config import SampleConfig
from defect_sample.job_inputs import build_groups, resolve_normals
from ksdd2_fixture import write_ksdd2

SIZE = 32
FAST = ["--base-model", "builtin:tiny", "--steps", "2", "--device", "cpu", "--dtype", "float32", "-q"]


@pytest.fixture
def ksdd2(tmp_path: Path) -> Path:
    """train/: positives 10300..10305 (+ the "(copy)" duplicate of 10300), negatives 10306..10315;
    test/: positives 20000..20002, negatives 20003..20007."""
    return write_ksdd2(tmp_path / "KolektorSDD2")


def _ksdd2_config(root: Path, tmp_path: Path, mask_split: str) -> SampleConfig:
    return SampleConfig(
        out=tmp_path / "out",
        prompt="white marks on the wall",
        base_model="builtin:tiny",
        dataset="ksdd2",
        dataset_root=root,
        object_name="ksdd2",
        mask_split=mask_split,
    )


@pytest.mark.parametrize(
    ("mask_split", "folder", "numbers"),
    [
        ("train", "train", range(10300, 10302)),  # DefectFill: the first third (6 // 3) of train/'s positives
        ("held_out", "train", range(10302, 10306)),  # the other two thirds
        ("all", "train", range(10300, 10306)),  # every train positive: DIAG's masks
        ("test", "test", range(20000, 20003)),  # DIAG's test set: the official test/ folder
    ],
)
def test_ksdd2_mask_splits_follow_the_protocol_they_name(ksdd2, tmp_path, mask_split, folder, numbers):
    (group,) = build_groups(_ksdd2_config(ksdd2, tmp_path, mask_split), [])
    assert group.mask_paths == tuple(ksdd2 / folder / f"{n}_GT.png" for n in numbers)
    # the normals are train/'s defect-free images, whichever masks are used
    normals = resolve_normals(_ksdd2_config(ksdd2, tmp_path, mask_split))
    assert normals == [ksdd2 / "train" / f"{n}.png" for n in range(10306, 10316)]


def test_ksdd2_mask_split_all_skips_the_duplicate_copy_with_a_warning(tmp_path, caplog):
    root = write_ksdd2(tmp_path / "KolektorSDD2")  # a fresh path: the reader warns once per file and process
    (group,) = build_groups(_ksdd2_config(root, tmp_path, "all"), [])
    assert not any("(copy)" in p.name for p in group.mask_paths)
    warned = {r.getMessage() for r in caplog.records if r.levelname == "WARNING"}
    assert any("10301 (copy).png" in m for m in warned) and any("10301_GT (copy).png" in m for m in warned)


def test_cli_generates_at_the_official_test_masks_on_train_negatives(ksdd2, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--prompt", "white marks on the wall", "--dataset", "ksdd2", "--dataset-root", str(ksdd2)]
    argv += ["--object-name", "ksdd2", "--mask-split", "test", "--count", "3", "--out", str(out), *FAST]
    assert main(argv) == 0, capsys.readouterr().err
    records = read_manifest(out / "manifest.jsonl")
    # three items over three test masks: each once (the plan balances the masks)
    assert sorted(str(r.mask_source) for r in records) == [
        str(ksdd2 / "test" / f"{n}_GT.png") for n in range(20000, 20003)
    ]
    negatives = {ksdd2 / "train" / f"{n}.png" for n in range(10306, 10316)}
    assert {r.source_image.resolve() for r in records} <= {p.resolve() for p in negatives}
    assert load_toml(out / "config.toml")["mask_split"] == "test"


@pytest.mark.parametrize("dataset", ["mvtec", "demo"])
def test_the_test_split_of_a_dataset_without_one_is_a_named_config_error(dataset, tmp_path, capsys):
    argv = ["--prompt", "a hole", "--dataset", dataset, "--dataset-root", str(tmp_path)]
    argv += ["--object-name", "brick", "--mask-split", "test", "--out", str(tmp_path / "out"), *FAST]
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "mask_split" in err and "official test split" in err and f"dataset {dataset!r} does not" in err


def test_help_says_which_mask_split_follows_which_protocol():
    text = " ".join(build_parser().format_help().split())
    start = text.index("--mask-split {held_out,train,all,test} take")  # the option's entry, not the usage
    mask_split_help = text[start : text.index("--split-rule {", start)]
    assert "DefectFill's protocol: held_out" in mask_split_help
    assert "DIAG's protocol: test = the official test split" in mask_split_help


# --- Defect Spectrum: defect-free images from the original MVTec AD (--normals-root) -----------------------


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_ds_bottle(root: Path, per_defect: int = 6) -> Path:
    """A DS-MVTec subset: bottle/image/broken_large/NNN.png and bottle/mask/broken_large/NNN_mask.png
    (class id 1, DS-MVTec's id of broken_large), bright boxes on dark noise; no defect-free image."""
    rng = np.random.default_rng(1)
    for i in range(per_defect):
        labels = np.zeros((SIZE, SIZE), np.uint8)
        labels[4 + 2 * i : 14 + 2 * i, 6:20] = 1
        image = rng.integers(0, 50, (SIZE, SIZE, 3), dtype=np.uint8)
        image[labels > 0] = 230
        _write_png(root / "bottle" / "image" / "broken_large" / f"{i:03d}.png", image)
        _write_png(root / "bottle" / "mask" / "broken_large" / f"{i:03d}_mask.png", labels)
    return root


def write_mvtec_good(root: Path, count: int = 3) -> Path:
    """The original MVTec AD's bottle/train/good and bottle/test/good (a gray level per image)."""
    for split in ("train", "test"):
        for i in range(count):
            _write_png(
                root / "bottle" / split / "good" / f"{i:03d}.png", np.full((SIZE, SIZE, 3), 90 + i, np.uint8)
            )
    return root


def test_cli_fills_defect_spectrum_masks_into_the_normals_of_normals_root(tmp_path, capsys):
    ds = write_ds_bottle(tmp_path / "DS-MVTec")
    mvtec = write_mvtec_good(tmp_path / "mvtec_ad")
    out = tmp_path / "out"
    argv = ["--prompt", "a broken bottle", "--dataset", "defect-spectrum", "--dataset-root", str(ds)]
    argv += ["--normals-root", str(mvtec), "--object-name", "bottle", "--defect-name", "broken_large"]
    argv += ["--mask-split", "held_out", "--count", "2", "--out", str(out), *FAST]
    assert main(argv) == 0, capsys.readouterr().err
    records = read_manifest(out / "manifest.jsonl")
    assert len(records) == 2
    good = {(mvtec / "bottle" / "train" / "good" / f"{i:03d}.png").resolve() for i in range(3)}
    assert {r.source_image.resolve() for r in records} <= good
    # the held-out masks: 6 // 3 = 2 train (000, 001), the rest held out
    held_out = {str(ds / "bottle" / "mask" / "broken_large" / f"{i:03d}_mask.png") for i in range(2, 6)}
    assert {str(r.mask_source) for r in records} <= held_out
    assert Path(load_toml(out / "config.toml")["normals_root"]) == mvtec.resolve()


def test_normals_root_is_required_by_defect_spectrum_and_refused_elsewhere(tmp_path, capsys):
    base = ["--prompt", "a broken bottle", "--object-name", "bottle", "--mask-split", "held_out"]
    base += ["--out", str(tmp_path / "out"), *FAST]
    for extra, message in (
        (["--dataset", "defect-spectrum", "--dataset-root", str(tmp_path)], "give --normals-root"),
        (
            ["--dataset", "mvtec", "--dataset-root", str(tmp_path), "--normals-root", str(tmp_path)],
            "dataset 'mvtec' has its own",
        ),
    ):
        with pytest.raises(SystemExit) as info:
            main([*base, *extra])
        err = capsys.readouterr().err
        assert info.value.code == 2 and "normals_root" in err and message in err


def test_an_unknown_defect_of_the_dataset_is_one_line_naming_the_folder(tmp_path, capsys):
    ds = write_ds_bottle(tmp_path / "DS-MVTec")
    mvtec = write_mvtec_good(tmp_path / "mvtec_ad")
    argv = ["--prompt", "a broken bottle", "--dataset", "defect-spectrum", "--dataset-root", str(ds)]
    argv += ["--normals-root", str(mvtec), "--object-name", "bottle", "--mask-split", "held_out"]
    argv += ["--out", str(tmp_path / "out"), *FAST]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{ds}: unknown defect 'defect'" in err and "available: broken_large" in err
    assert "--defect-name" in err
