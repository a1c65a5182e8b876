"""The defect-train command line: help, version, config-file defaults, flags, exit codes."""

from __future__ import annotations

import tomllib

import pytest

from defect_train import __version__
from defect_train.cli import main


def test_help_and_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--dataset",
        "--root",
        "--object",
        "--defect",
        "--base-model",
        "--output",
        "--config",
        "--steps",
        "--batch-size",
        "--resolution",
        "--seed",
        "--rank",
        "--learning-rate",
        "--text-encoder-learning-rate",
        "--resume",
        "--mixed-precision",
        "--gradient-checkpointing",
    ):
        assert flag in out, flag
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_config_file_sets_defaults_and_flags_win(tmp_path, capsys) -> None:
    config = tmp_path / "train.toml"
    run = tmp_path / "run"
    config.write_text(
        f'output_dir = "{run}"\nbase_model = "builtin:tiny"\nsteps = 3\nresolution = 64\nbatch_size = 2\n'
        "preview_count = 0\nlearning_rate = 0.001\n"
    )
    assert main(["--config", str(config), "--steps", "2", "--rank", "4"]) == 0
    resolved = tomllib.loads((run / "config.toml").read_text())
    assert resolved["steps"] == 2  # the flag won
    assert resolved["learning_rate"] == 0.001  # from the file
    assert resolved["rank"] == 4
    assert resolved["lora_alpha"] == 16.0 and resolved["object_loss_weight"] == 0.2  # paper defaults
    out = capsys.readouterr().out
    assert str(run / "concept.safetensors") in out


def test_bad_config_key_and_bad_data_exit_with_messages(tmp_path, capsys) -> None:
    config = tmp_path / "train.toml"
    config.write_text("stepz = 3\n")
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config)])
    assert info.value.code == 2
    assert "stepz" in capsys.readouterr().err
    assert main(["--output-dir", str(tmp_path / "r"), "--object", "bottle", "--steps", "1"]) == 2
    assert "unknown object 'bottle'" in capsys.readouterr().err
