"""Training: the loop really learns, early stopping, checkpoints, and the run's files."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from inspect_helpers import OBJECT, tiny_config
from torch.utils.data import DataLoader

from defect_core.errors import InputFileError
from defect_inspect import (
    CheckpointInfo,
    InspectConfig,
    load_checkpoint,
    save_checkpoint,
    train_inspection_model,
)
from defect_inspect.training.early_stopping import EarlyStopping
from defect_inspect.training.loop import NonFiniteLossError, fit


def test_segmenter_learns_a_trivially_separable_set(
    tmp_path: Path, generated_dir: Path, synthetic_root: Path
) -> None:
    config = tiny_config(
        tmp_path,
        "segmenter",
        train=(generated_dir,),
        dataset="mvtec",
        dataset_root=synthetic_root,
        object_name=OBJECT,
        epochs=6,
        val_fraction=0.0,
    )
    result = train_inspection_model(config, progress=False)
    localization = result.metrics["results"]["localization"]
    assert localization["pixel_auroc"] > 0.95, localization
    # the test set is the real held-out split: 6 + 6 defects and 3 defect-free images
    assert localization["images"] == 15 and localization["defective_images"] == 12
    history = [r.train_loss for r in result.fit.history]
    assert history[-1] < history[0]

    out = result.out_dir
    for name in (
        "config.toml",
        "model.safetensors",
        "metrics.json",
        "predictions.png",
        "history.csv",
        "loss.png",
        "checkpoints/last.safetensors",
    ):
        assert (out / name).is_file(), name
    saved = tomllib.loads((out / "config.toml").read_text())
    assert saved["task"] == "segmenter" and saved["encoder"] == "resnet18" and saved["epochs"] == 6
    assert json.loads((out / "metrics.json").read_text())["results"]["localization"] == localization
    assert len(list((out / "test" / "maps").glob("*.npy"))) == 15


def test_classifier_run_without_test_set_scores_its_validation_split(
    tmp_path: Path, generated_dir: Path
) -> None:
    config = tiny_config(tmp_path, "classifier", train=(generated_dir,), val_fraction=0.25, epochs=2)
    result = train_inspection_model(config, progress=False)
    assert result.metrics["inputs"]["scored_split"] == "validation"
    assert result.metrics["inputs"]["validation_items"] == {"square": 3, "stripe": 3}
    classification = result.metrics["results"]["classification"]
    assert classification["samples"] == 6 and classification["classes"] == ["square", "stripe"]
    info = load_checkpoint(result.checkpoint)[1]
    assert info.classes == ("square", "stripe") and info.epoch == result.fit.best_epoch


def test_early_stopping_counts_epochs_without_improvement() -> None:
    stopper = EarlyStopping(patience=2)
    improved = [stopper.step(v, e) for e, v in enumerate([1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.71], start=1)]
    assert improved == [True, True, False, False, True, False, False]
    assert stopper.best == 0.7 and stopper.best_epoch == 5 and stopper.should_stop
    assert not EarlyStopping(1).step(math.nan, 1)


def _toy_loader(values: torch.Tensor) -> DataLoader:
    data = [{"image": v.reshape(1), "target": torch.tensor(1.0)} for v in values]
    return DataLoader(data, batch_size=4)


def test_fit_restores_the_best_epoch_and_stops_early() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    train = _toy_loader(torch.linspace(-1, 1, 8))
    # a validation loss that is lowest after epoch 1 and then grows: the weights of epoch 1 must come back
    val_losses = iter([0.1, 0.5, 0.6, 0.7, 0.8])
    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def loss_fn(outputs, batch):
        if not outputs.requires_grad:  # validation pass
            return torch.tensor(next(val_losses))
        return ((outputs.squeeze(1) - batch["target"]) ** 2).mean()

    def on_epoch_end(record, is_best):
        snapshots[record.epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    result = fit(
        model,
        loss_fn,
        train,
        _toy_loader(torch.zeros(4)),
        device=torch.device("cpu"),
        epochs=10,
        learning_rate=0.1,
        weight_decay=0.0,
        patience=2,
        on_epoch_end=on_epoch_end,
        progress=False,
    )
    assert result.best_epoch == 1 and result.stopped_early and len(result.history) == 3
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[1][key])


def test_fit_stops_on_a_non_finite_loss() -> None:
    model = torch.nn.Linear(1, 1)
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        fit(
            model,
            lambda outputs, batch: outputs.sum() * float("nan"),
            _toy_loader(torch.ones(4)),
            None,
            device=torch.device("cpu"),
            epochs=2,
            learning_rate=0.1,
            weight_decay=0.0,
            patience=1,
            progress=False,
        )


def test_checkpoint_round_trip_and_bad_files(tmp_path: Path) -> None:
    from defect_inspect import create_model

    torch.manual_seed(0)
    model = create_model("segmenter", "unet", False, num_outputs=3, encoder="resnet18").eval()
    info = CheckpointInfo(
        task="segmenter",
        model="unet",
        encoder="resnet18",
        classes=("background", "a", "b"),
        num_outputs=3,
        resolution=32,
        multiclass=True,
        threshold=0.4,
        epoch=7,
    )
    path = save_checkpoint(model, info, tmp_path / "model.safetensors")
    loaded, loaded_info = load_checkpoint(path)
    assert loaded_info == info and not loaded.training
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())

    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputFileError, match="junk.safetensors: cannot be read"):
        load_checkpoint(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(InputFileError, match="not a defect-inspect checkpoint"):
        load_checkpoint(tmp_path / "foreign.safetensors")
    with pytest.raises(InputFileError, match="does not exist"):
        load_checkpoint(tmp_path / "none.safetensors")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train": (), "real_train": False}, "nothing to train on"),
        ({"out": None}, "out"),
        ({"real_train": True, "dataset": None}, "real_train"),
        ({"dataset": "mvtec", "dataset_root": None}, "dataset_root"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"epochs": 0}, "epochs"),
        ({"resolution": 30}, "resolution"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"multiclass": True}, "only for the segmenter"),
        ({"pretrained": False, "weights": Path("w.pt")}, "weights"),
        ({"real_train": True, "dataset": "demo", "test_split": "all"}, "measures nothing"),
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, changes: dict, message: str) -> None:
    base = InspectConfig(task="classifier", train=(tmp_path,), out=tmp_path / "out")
    with pytest.raises(ValueError, match=message) as info:
        replace(base, **changes)
    assert "InspectConfig." in str(info.value)


def test_classifier_needs_two_classes_and_detector_needs_normals(tmp_path: Path, generated_dir: Path) -> None:
    with pytest.raises(ValueError, match="at least two classes"):
        train_inspection_model(
            tiny_config(tmp_path, "classifier", train=(generated_dir,), defects=("square",)), progress=False
        )
    with pytest.raises(ValueError, match="defect and defect-free"):
        train_inspection_model(tiny_config(tmp_path, "detector", train=(generated_dir,)), progress=False)


def test_mixed_precision_only_on_a_gpu() -> None:
    from defect_inspect.training.device import autocast_dtype
    from defect_metrics import resolve_device

    assert autocast_dtype(torch.device("cpu"), True) is None
    assert autocast_dtype(torch.device("cuda"), False) is None
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_detector_with_oversampled_defects(tmp_path: Path, generated_dir: Path, synthetic_root: Path) -> None:
    config = tiny_config(
        tmp_path,
        "detector",
        train=(generated_dir,),
        dataset="mvtec",
        dataset_root=synthetic_root,
        object_name=OBJECT,
        balance="oversample",
        val_fraction=0.0,
        test_split="none",
    )
    result = train_inspection_model(config, progress=False)
    # 24 generated defects against 8 defect-free images: the defect-free ones are repeated up to 24
    assert result.metrics["inputs"]["training_items"] == {"good": 24, "square": 12, "stripe": 12}


def test_experiment_config_checks_and_demo_preset(tmp_path: Path) -> None:
    from defect_inspect import ExperimentConfig
    from defect_inspect.experiment import DEMO_PRESET

    demo = ExperimentConfig.demo(out=tmp_path)
    assert all(getattr(demo, k) == v for k, v in DEMO_PRESET.items())
    assert demo.settings == ("real", "cut-paste", "defectfill")
    assert ExperimentConfig().concept_steps == 2000 and ExperimentConfig().count == 1000  # the papers' values
    assert replace(demo, baselines=("cut-paste",)).settings == ("cut-paste", "defectfill")
    for changes, field_name in (
        ({"dataset": "mvtec"}, "dataset_root"),
        ({"count": 0}, "count"),
        ({"baselines": ("gan",)}, "baselines"),
        ({"select": "clip"}, "select"),
    ):
        with pytest.raises(ValueError, match=f"ExperimentConfig.{field_name}"):
            replace(demo, **changes)
