"""The command line: every subcommand end to end on tiny settings, config files, and clear errors."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
from inspect_helpers import OBJECT

from defect_inspect import __version__
from defect_inspect.cli import main

TINY = ["--no-pretrained", "--epochs", "1", "--batch-size", "8", "--resolution", "32", "-q"]


def _data_flags(root: Path) -> list[str]:
    return ["--dataset", "mvtec", "--dataset-root", str(root), "--object", OBJECT]


def test_version_and_help(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "train-segmenter" in capsys.readouterr().out


def test_train_evaluate_predict_from_the_command_line(
    tmp_path: Path, generated_dir: Path, synthetic_root: Path, capsys
) -> None:
    runs = {}
    for command, model in (
        ("train-classifier", ["--model", "test_efficientnet"]),
        ("train-segmenter", ["--encoder", "resnet18"]),
        ("train-detector", ["--model", "test_efficientnet"]),
    ):
        out = tmp_path / command
        code = main(
            [
                command,
                "--train",
                str(generated_dir),
                *_data_flags(synthetic_root),
                *model,
                *TINY,
                "--out",
                str(out),
            ]
        )
        assert code == 0, capsys.readouterr().err
        for name in ("model.safetensors", "config.toml", "metrics.json", "predictions.png"):
            assert (out / name).is_file(), (command, name)
        runs[command] = out
        assert str(out / "model.safetensors") in capsys.readouterr().out
    metrics = json.loads((runs["train-detector"] / "metrics.json").read_text())
    assert metrics["metric"] == "detector" and metrics["results"]["detection"]["images"] == 15
    assert tomllib.loads((runs["train-segmenter"] / "config.toml").read_text())["model"] == "unet"

    checkpoint = runs["train-segmenter"] / "model.safetensors"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(checkpoint),
                *_data_flags(synthetic_root),
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    evaluation = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    training = json.loads((runs["train-segmenter"] / "metrics.json").read_text())
    # evaluating the saved model on the same split reproduces the numbers of the training run
    assert evaluation["results"]["localization"] == training["results"]["localization"]

    images = synthetic_root / OBJECT / "test" / "square"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(checkpoint),
                "--images",
                str(images),
                "--out",
                str(tmp_path / "pred"),
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "pred" / "maps").glob("*.npy"))) == 9


def test_config_file_sets_defaults_and_flags_win(tmp_path: Path, generated_dir: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'model = "test_efficientnet"\ntrain = ["{generated_dir}"]\npretrained = false\n'
        "epochs = 1\nresolution = 32\nbatch_size = 4\nval_fraction = 0.25\n"
    )
    out = tmp_path / "run"
    assert (
        main(["train-classifier", "--config", str(config), "--batch-size", "6", "--out", str(out), "-q"]) == 0
    )
    saved = tomllib.loads((out / "config.toml").read_text())
    assert (
        saved["model"] == "test_efficientnet" and saved["batch_size"] == 6 and saved["task"] == "classifier"
    )
    assert saved["train"] == [str(generated_dir)]

    config.write_text("epochs = 1\nepoks = 2\n")
    with pytest.raises(SystemExit):
        main(["train-classifier", "--config", str(config), "--out", str(out)])


def test_bad_inputs_get_clear_errors(tmp_path: Path, generated_dir: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    assert main(["train-classifier", "--train", str(missing), *TINY, "--out", str(tmp_path / "a")]) == 1
    assert f"{missing}: generation output folder does not exist" in capsys.readouterr().err

    assert (
        main(
            [
                "train-classifier",
                "--train",
                str(generated_dir),
                "--model",
                "resnet18",
                "-q",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "models--timm--resnet18.a1_in1k" in err and "--no-pretrained" in err

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 10)
    assert main(["evaluate", "--checkpoint", str(junk), "--out", str(tmp_path / "c")]) == 1
    assert str(junk) in capsys.readouterr().err

    with pytest.raises(SystemExit) as info:
        main(["train-segmenter", "--train", str(generated_dir)])  # no --out
    assert info.value.code == 2
    assert "InspectConfig.out" in capsys.readouterr().err


def test_experiment_without_its_extra_names_the_extra(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "defect_train", None)  # as if defect-train were not installed
    assert main(["experiment", "--out", str(tmp_path / "x"), "-q"]) == 1
    assert 'pip install "defect-inspect[experiment]"' in capsys.readouterr().err
    from defect_inspect import ExperimentConfig, run_experiment

    with pytest.raises(ImportError, match=r"defect-inspect\[experiment\]"):
        run_experiment(ExperimentConfig.demo(out=tmp_path / "y"))
    assert not (tmp_path / "y").exists()  # it failed before doing any work


def test_public_api_and_a_light_command_line() -> None:
    import subprocess

    import defect_inspect

    for name in defect_inspect.__all__:
        assert getattr(defect_inspect, name) is not None, name
    # building the parser (--help, --version) must not import torch: a few hundred ms, not seconds
    probe = "import sys, defect_inspect.cli as c; c.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
