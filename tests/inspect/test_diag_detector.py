"""DIAG's detector: ``train-detector --preset diag`` resolves to the published training settings, explicit
flags override them, and the per-epoch test AP in metrics.csv is scikit-learn's on the model's logits.

Tiny runs only: the preset's ResNet-50 from random weights (``--no-pretrained``; tests never download) at a
small input size, on a KSDD2-shaped fixture (tests/ksdd2_fixture.py).
"""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from defect_core.errors import MissingWeightsError
from defect_inspect.cli import build_parser, main, parse_command
from ksdd2_fixture import write_ksdd2


@pytest.fixture(scope="module")
def ksdd2_root(tmp_path_factory) -> Path:
    return write_ksdd2(tmp_path_factory.mktemp("ksdd2") / "KolektorSDD2")


def _parse(argv: list[str]):
    return parse_command(build_parser(), argv)[0]


def test_diag_preset_resolves_to_the_published_settings(ksdd2_root: Path, tmp_path: Path) -> None:
    from defect_inspect.run_training import _loader
    from defect_inspect.training.optimizers import create_optimizer, create_schedule

    common = ["--dataset", "ksdd2", "--dataset-root", str(ksdd2_root), "--out", str(tmp_path / "run")]
    config = _parse(["train-detector", "--preset", "diag", "--real-train", "all", *common])
    expected = {
        "preset": "diag",
        "task": "detector",
        "model": "torchvision/resnet50.IMAGENET1K_V1",
        "pretrained": True,
        "optimizer": "adam",
        "learning_rate": 1e-4,
        "weight_decay": 0.0,
        "lr_schedule": "constant",
        "batch_size": 32,
        "epochs": 30,
        "augment": False,
        "val_fraction": 0.0,
        "balance": "none",
        "input_size": (704, 256),
        "test_split": "test",
        "epoch_metrics": True,
        "real_train": "all",
    }
    assert {k: getattr(config, k) for k in expected} == expected
    assert config.input_hw == (704, 256)

    # what those names build: Adam without weight decay at a constant rate, un-augmented 704 x 256 batches
    model = torch.nn.Linear(2, 1)
    optimizer = create_optimizer(
        config.optimizer, model.parameters(), config.learning_rate, config.weight_decay
    )
    assert type(optimizer) is torch.optim.Adam
    assert optimizer.param_groups[0]["weight_decay"] == 0.0
    schedule = create_schedule(config.lr_schedule, optimizer, config.epochs)
    rates = []
    for _ in range(config.epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == [1e-4] * 30
    from defect_inspect.data.items import InspectionItem

    item = InspectionItem(
        ksdd2_root / "train" / "10300.png", ksdd2_root / "train" / "10300_GT.png", "defect", "real", 1
    )
    loader = _loader([item], ["good", "defect"], config, True)
    assert loader.dataset.augment is False and loader.batch_size == 32
    assert loader.dataset[0]["image"].shape == (3, 704, 256)

    # explicit flags and a config file override the preset; the preset still fills the rest
    settings = tmp_path / "settings.toml"
    settings.write_text("epochs = 3\nbatch_size = 4\n")
    config = _parse(
        [
            "train-detector",
            "--preset",
            "diag",
            "--config",
            str(settings),
            "--batch-size",
            "8",
            "--input-size",
            "64",
            "32",
            "--real-train",  # bare: the training third, as before the flag took a value
            "--no-pretrained",
            "--test-split",
            "held_out",
            *common,
        ]
    )
    assert (config.epochs, config.batch_size, config.input_size, config.pretrained) == (3, 8, (64, 32), False)
    assert (config.optimizer, config.lr_schedule, config.real_train) == ("adam", "constant", "train")
    assert config.test_split == "held_out"


def test_diag_preset_is_the_detectors(ksdd2_root: Path, tmp_path: Path, capsys) -> None:
    common = ["--dataset", "ksdd2", "--dataset-root", str(ksdd2_root), "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit):
        _parse(["train-classifier", "--preset", "diag", "--real-train", "all", *common])
    assert "diag is DIAG's detector" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["train-detector", "--preset", "diagonal", *common])
    assert "unknown --preset 'diagonal'; available: diag" in capsys.readouterr().err
    # the official test split is KSDD2's: elsewhere the preset's test split is refused by name
    with pytest.raises(SystemExit):
        _parse(
            [
                "train-detector",
                "--preset",
                "diag",
                "--dataset",
                "demo",
                "--real-train",
                "--out",
                str(tmp_path),
            ]
        )
    assert "dataset 'demo' does not: use held_out" in capsys.readouterr().err
    # training on every real defect while testing on part of them is refused
    with pytest.raises(SystemExit):
        _parse(["train-detector", "--real-train", "all", "--test-split", "held_out", *common])
    assert "--real-train all trains on every real training defect" in capsys.readouterr().err


def _independent_logits(checkpoint: Path, images: list[Path], size_hw: tuple[int, int]) -> np.ndarray:
    """The detector's logits computed here, not by defect-inspect's loaders: PIL bilinear resize, ImageNet
    normalisation by hand, torchvision's ResNet-50 with a one-logit head loaded from the safetensors file."""
    import torchvision
    from safetensors.torch import load_file

    network = torchvision.models.resnet50(weights=None)
    network.fc = torch.nn.Linear(network.fc.in_features, 1)
    network.load_state_dict(load_file(str(checkpoint)))
    network.eval()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    batch = []
    for path in images:
        image = Image.open(path).convert("RGB").resize((size_hw[1], size_hw[0]), Image.Resampling.BILINEAR)
        array = (np.asarray(image, np.float32) / 255.0 - mean) / std
        batch.append(torch.from_numpy(array.transpose(2, 0, 1).astype(np.float32)))
    with torch.no_grad():
        return network(torch.stack(batch)).reshape(-1).double().numpy()


def test_per_epoch_ap_is_scikit_learns_on_the_logits(ksdd2_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        "train-detector",
        "--preset",
        "diag",
        "--real-train",
        "all",
        "--dataset",
        "ksdd2",
        "--dataset-root",
        str(ksdd2_root),
        "--no-pretrained",
        "--input-size",
        "64",
        "32",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--preview-count",
        "2",
        "--out",
        str(out),
        "-q",
    ]
    assert main(argv) == 0

    saved = tomllib.loads((out / "config.toml").read_text())
    assert saved["preset"] == "diag" and saved["optimizer"] == "adam" and saved["input_size"] == [64, 32]
    metrics = json.loads((out / "metrics.json").read_text())
    # every train positive (the fixture's 6, its duplicate copy skipped) and every train negative; no validation
    assert metrics["inputs"]["training_items"] == {"defect": 6, "good": 10}
    assert metrics["inputs"]["validation_items"] == {}
    assert metrics["inputs"]["scored_items"] == {"defect": 3, "good": 5}  # the official test/ folder
    history = list(csv.DictReader((out / "history.csv").open()))
    assert [float(r["learning_rate"]) for r in history] == [1e-4, 1e-4]  # constant

    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert Image.open(out / "metrics.png").size[0] >= 320

    # the weights kept are the last epoch's (no validation split): its metrics are the last row's
    test_images = sorted((ksdd2_root / "test").glob("2????.png"))
    truth = np.array([int(p.stem) < 20003 for p in test_images])  # the fixture's first 3 are the positives
    logits = _independent_logits(out / "model.safetensors", test_images, (64, 32))
    last = rows[-1]
    assert float(last["ap"]) == pytest.approx(average_precision_score(truth, logits), abs=1e-6)
    assert float(last["auroc"]) == pytest.approx(roc_auc_score(truth, logits), abs=1e-6)
    precision, recall, thresholds = precision_recall_curve(truth, logits)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))
    assert float(last["f1"]) == pytest.approx(f1[best], abs=1e-6)
    if np.sum(np.isclose(f1[:-1], f1[best])) == 1:  # a unique best threshold: the same point
        assert float(last["precision"]) == pytest.approx(precision[best], abs=1e-6)
        assert float(last["recall"]) == pytest.approx(recall[best], abs=1e-6)
        assert float(last["threshold"]) == pytest.approx(thresholds[best], abs=1e-5)
    assert metrics["results"]["training"]["epoch_metrics"][-1]["ap"] == pytest.approx(float(last["ap"]))

    # `evaluate --split test` scores the saved model on the same official test split, at its 64 x 32 input
    evaluation = tmp_path / "evaluation"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(out / "model.safetensors"),
                "--dataset",
                "ksdd2",
                "--dataset-root",
                str(ksdd2_root),
                "--split",
                "test",
                "--device",
                "cpu",
                "--out",
                str(evaluation),
                "-q",
            ]
        )
        == 0
    )
    scored = json.loads((evaluation / "metrics.json").read_text())
    assert scored["inputs"]["items"] == {"defect": 3, "good": 5}
    assert scored["settings"]["input_size"] == [64, 32]
    assert scored["results"]["detection"]["ap"] == pytest.approx(
        average_precision_score(truth, logits), abs=1e-6
    )


def test_missing_v1_weights_name_the_file(tmp_path: Path, monkeypatch) -> None:
    from defect_inspect.models.registry import create_model

    monkeypatch.setenv("DEFECTFILL_OFFLINE", "1")
    with pytest.raises(MissingWeightsError) as info:
        create_model("detector", "torchvision/resnet50.IMAGENET1K_V1", True, num_outputs=1)
    message = str(info.value)
    # the V1 file (not V2's), in torch's hub cache, and where to get it
    expected = Path(torch.hub.get_dir()) / "checkpoints" / "resnet50-0676ba61.pth"
    assert str(expected) in message
    assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in message
    assert "IMAGENET1K_V1" in message and "--no-pretrained" in message
    with pytest.raises(
        ValueError, match="has no weights 'IMAGENET9K'; available: IMAGENET1K_V1, IMAGENET1K_V2"
    ):
        create_model("detector", "torchvision/resnet50.IMAGENET9K", False, num_outputs=1)


def test_cached_v1_weights_are_loaded(tmp_path: Path) -> None:
    """A file at the V1 path of torch's hub cache is what the preset's model loads (the trunk, not the head)."""
    import torchvision

    from defect_inspect.models.registry import create_model

    reference = torchvision.models.resnet50(weights=None)
    torch.nn.init.constant_(reference.conv1.weight, 0.25)
    path = Path(torch.hub.get_dir()) / "checkpoints" / "resnet50-0676ba61.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), path)
    model = create_model("detector", "torchvision/resnet50.IMAGENET1K_V1", True, num_outputs=1)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert model.fc.out_features == 1
