"""The ``defect-metrics`` command line: folders in, the library's numbers out (table or JSON), a report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

import defect_core.weight_files as weights
from defect_core.images import mask_to_image
from defect_metrics import (
    classification_metrics,
    extract_features,
    fid,
    ic_lpips,
    kid,
    load_lpips,
    localization_metrics,
)
from defect_metrics.cli import main
from defect_metrics.intra_cluster_lpips import ICLPIPSConfig


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _localization_folders(root, with_good=True):
    rng = np.random.default_rng(0)
    maps_dir, masks_dir = root / "maps", root / "masks"
    maps_dir.mkdir()
    masks_dir.mkdir()
    maps, masks = [], []
    for index in range(6):
        mask = np.zeros((24, 32), dtype=bool)
        good = with_good and index >= 4
        if not good:
            mask[4 + index : 10 + index, 6:14] = True
            mask_to_image(mask).save(masks_dir / f"s{index}.png")
        amap = (rng.random((24, 32)) + 0.5 * mask).astype(np.float32)
        if index % 2:
            Image.fromarray(amap, mode="F").save(maps_dir / f"s{index}.tiff")
        else:
            np.save(maps_dir / f"s{index}.npy", amap)
        maps.append(amap)
        masks.append(mask)
    return maps_dir, masks_dir, maps, masks


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert "defect-metrics" in capsys.readouterr().out


def test_localization_json_equals_library(tmp_path, capsys):
    maps_dir, masks_dir, maps, masks = _localization_folders(tmp_path)
    out = tmp_path / "loc.json"
    code, stdout, _ = _run(
        capsys,
        "localization",
        "--maps",
        maps_dir,
        "--masks",
        masks_dir,
        "--missing-mask-is-good",
        "--smoothing",
        "3",
        "--json",
        "--output",
        out,
    )
    assert code == 0
    document = json.loads(stdout)
    assert json.loads(out.read_text())["results"] == document["results"]
    expected = localization_metrics(maps, masks, smoothing=3)
    for key in (
        "pixel_auroc",
        "pixel_ap",
        "pixel_f1_max",
        "aupro",
        "image_auroc",
        "image_ap",
        "image_f1_max",
    ):
        assert document["results"][key] == pytest.approx(getattr(expected, key), abs=1e-12)
    assert document["settings"] == {"fpr_limit": 0.3, "smoothing": 3, "smoothing_border": "reflect"}
    assert document["metric"] == "localization" and "pro" in document["curves"]
    # Without --json: a readable table with the same numbers.
    code, stdout, _ = _run(
        capsys, "localization", "--maps", maps_dir, "--masks", masks_dir, "--missing-mask-is-good"
    )
    assert code == 0 and "aupro" in stdout and f"{expected.pixel_auroc:.4f}" in stdout


def test_localization_reports_maps_without_masks(tmp_path, capsys):
    maps_dir, masks_dir, _, _ = _localization_folders(tmp_path)
    code, _, stderr = _run(capsys, "localization", "--maps", maps_dir, "--masks", masks_dir)
    assert code == 1
    assert "s4.npy: has no mask" in stderr and "s5.tiff: has no mask" in stderr


def test_kid_and_fid_on_feature_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 8)), rng.normal(size=(50, 8)) + 0.2
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    code, stdout, _ = _run(
        capsys,
        "kid",
        "--real",
        tmp_path / "real.npy",
        "--fake",
        tmp_path / "fake.npy",
        "--subsets",
        "5",
        "--subset-size",
        "20",
        "--json",
    )
    assert code == 0
    results = json.loads(stdout)["results"]
    expected = kid(real, fake, subsets=5, subset_size=20, seed=0)
    assert results["kid"] == pytest.approx(expected.mean, abs=1e-15)
    assert results["kid_x1e3"] == pytest.approx(expected.mean * 1e3)
    assert results["kid_std"] == pytest.approx(expected.std, abs=1e-15)
    code, stdout, _ = _run(
        capsys, "fid", "--real", tmp_path / "real.npy", "--fake", tmp_path / "fake.npy", "--json"
    )
    assert json.loads(stdout)["results"]["fid"] == pytest.approx(fid(real, fake), abs=1e-12)


def _image_folder(folder, seed, count, size=32):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"i{index}.png")
    return sorted(folder.iterdir())


def test_kid_on_folders_with_a_plugged_extractor(tmp_path, capsys, monkeypatch):
    real = _image_folder(tmp_path / "real", 0, 6)
    fake = _image_folder(tmp_path / "fake", 1, 5)
    module = tmp_path / "my_backbone.py"
    module.write_text(
        "import torch\n"
        "def make():\n"
        "    return lambda x: torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, stdout, stderr = _run(
        capsys,
        "kid",
        "--real",
        tmp_path / "real",
        "--fake",
        tmp_path / "fake",
        "--extractor",
        "my_backbone:make",
        "--image-size",
        "64",
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0, stderr

    def features(paths):
        return extract_features(
            paths,
            lambda x: torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1),
            image_size=64,
            device="cpu",
            progress=False,
        )

    assert json.loads(stdout)["results"]["kid"] == pytest.approx(
        kid(features(real), features(fake)).mean, rel=1e-9
    )


def test_kid_on_folders_without_inception_weights_names_the_file(tmp_path, capsys):
    _image_folder(tmp_path / "real", 0, 3)
    _image_folder(tmp_path / "fake", 1, 3)
    code, _, stderr = _run(
        capsys, "kid", "--real", tmp_path / "real", "--fake", tmp_path / "fake", "--device", "cpu"
    )
    assert code == 1
    assert str(weights.clean_fid_cache_dir() / "inception-2015-12-05.pt") in stderr


def test_ic_lpips_with_cached_backbone(tmp_path, capsys):
    torch.manual_seed(0)
    cache = weights.torch_hub_checkpoints_dir()
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), cache / "alexnet-owt-7be5be79.pth")
    training = _image_folder(tmp_path / "train", 0, 2)
    generated = _image_folder(tmp_path / "gen", 1, 6)
    code, stdout, stderr = _run(
        capsys,
        "ic-lpips",
        "--generated",
        tmp_path / "gen",
        "--training",
        tmp_path / "train",
        "--image-size",
        "32",
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0, stderr
    results = json.loads(stdout)["results"]
    expected = ic_lpips(
        generated,
        training,
        config=ICLPIPSConfig(image_size=32),
        network=load_lpips("alex"),
        device="cpu",
        progress=False,
    )
    assert results["ic_lpips"] == pytest.approx(expected.value, abs=1e-12)
    assert sum(results["cluster_sizes"].values()) == 6 and set(results["cluster_sizes"]) == {"i0", "i1"}


def test_classification_and_segmentation(tmp_path, capsys):
    csv_path = tmp_path / "predictions.csv"
    csv_path.write_text("image,label,prediction\na,good,good\nb,crack,good\nc,crack,crack\nd,hole,hole\n")
    code, stdout, _ = _run(capsys, "classification", "--predictions", csv_path, "--json")
    assert code == 0
    results = json.loads(stdout)["results"]
    expected = classification_metrics(["good", "crack", "crack", "hole"], ["good", "good", "crack", "hole"])
    assert results["accuracy"] == expected.accuracy == 0.75
    assert results["confusion"] == expected.confusion.tolist()

    predictions, targets = tmp_path / "pred", tmp_path / "target"
    predictions.mkdir()
    targets.mkdir()
    target = np.zeros((4, 4), dtype=bool)
    target[:2, :2] = True
    prediction = np.zeros((4, 4), dtype=bool)
    prediction[:2, :3] = True
    mask_to_image(target).save(targets / "x.png")
    mask_to_image(prediction).save(predictions / "x.png")
    code, stdout, _ = _run(
        capsys, "segmentation", "--predictions", predictions, "--targets", targets, "--binary", "--json"
    )
    assert code == 0
    results = json.loads(stdout)["results"]
    assert results["iou"] == {"background": pytest.approx(10 / 12), "defect": pytest.approx(4 / 6)}
    assert results["miou"] == pytest.approx((10 / 12 + 4 / 6) / 2)


def test_report_table_and_plots(tmp_path, capsys):
    maps_dir, masks_dir, _, _ = _localization_folders(tmp_path)
    for name, smoothing in (("plain", "0"), ("smooth", "5")):
        assert (
            _run(
                capsys,
                "localization",
                "--maps",
                maps_dir,
                "--masks",
                masks_dir,
                "--missing-mask-is-good",
                "--smoothing",
                smoothing,
                "--output",
                tmp_path / f"{name}.json",
            )[0]
            == 0
        )
    np.save(tmp_path / "r.npy", np.random.default_rng(0).normal(size=(10, 4)))
    np.save(tmp_path / "f.npy", np.random.default_rng(1).normal(size=(10, 4)))
    assert (
        _run(
            capsys,
            "kid",
            "--real",
            tmp_path / "r.npy",
            "--fake",
            tmp_path / "f.npy",
            "--output",
            tmp_path / "k.json",
        )[0]
        == 0
    )

    report_dir = tmp_path / "report"
    code, stdout, _ = _run(
        capsys,
        "report",
        tmp_path / "plain.json",
        tmp_path / "smooth.json",
        tmp_path / "k.json",
        "--output",
        report_dir,
    )
    assert code == 0
    markdown = (report_dir / "report.md").read_text()
    plain = json.loads((tmp_path / "plain.json").read_text())["results"]
    assert "## localization" in markdown and "## kid" in markdown
    assert f"| plain | {plain['pixel_auroc']:.4f} |" in markdown
    for curve in ("pixel_roc", "pixel_pr", "pro", "image_roc", "image_pr"):
        with Image.open(report_dir / f"{curve}.png") as image:
            assert image.size == (640, 480)
        assert f"({curve}.png)" in markdown
    code, _, stderr = _run(capsys, "report", tmp_path / "r.npy", "--output", report_dir)
    assert code == 1 and "r.npy" in stderr
