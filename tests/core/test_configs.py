"""Configs: TOML written by us reads back with tomllib; argparse flags, file values and defaults combine."""

from __future__ import annotations

import argparse
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from defect_core.configs import (
    add_config_arguments,
    build_config,
    coerce_paths,
    config_field,
    config_to_dict,
    dump_toml,
    load_toml,
    parse_config,
    require,
    save_config,
)
from defect_core.errors import InputFileError


@dataclass(frozen=True)
class ToyConfig:
    steps: int = field(default=2000, metadata={"help": "training steps"})
    lr: float = field(default=2e-4, metadata={"help": "learning rate"})
    prompt: str = field(default="A photo of sks", metadata={"help": "prompt"})
    out: Path = field(default=Path("runs/out"), metadata={"help": "output folder"})
    hflip: bool = field(default=False, metadata={"help": "random horizontal flips"})
    targets: tuple[str, ...] = field(default=("to_q", "to_k"), metadata={"help": "LoRA targets"})
    rank: Literal[4, 8, 16] = field(default=8, metadata={"help": "LoRA rank"})
    metric: Literal["lpips", "psnr"] = field(default="lpips", metadata={"help": "selection metric"})
    resume: Path | None = field(default=None, metadata={"help": "checkpoint to resume from"})
    extra: dict[str, Any] = field(default_factory=dict, metadata={"help": "free-form"})

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"ToyConfig.steps={self.steps!r}: must be >= 1")


# -- TOML -----------------------------------------------------------------------------------------------


def test_dump_toml_round_trips_through_tomllib() -> None:
    data = {
        "name": 'say "sks" \\ twice',
        "multi": "line one\nline two\ttab\rcr\x00nul\x7fdel",
        "unicode": "façade ✓",
        "n": 3,
        "neg": -7,
        "yes": True,
        "no": False,
        "small": 2e-4,
        "tiny": 1e-12,
        "big": 1.5e300,
        "third": 1 / 3,
        "whole": 2.0,
        "list": [1, 2, 3],
        "floats": [0.5, -1.25],
        "names": ["a b", 'q"uote'],
        "nested_list": [[1, 2], [3]],
        "spaced key": 1,
        "dotted.key": 2,
        "café": 3,
        "train": {"steps": 10, "lr": 4e-5, "opt": {"betas": [0.9, 0.999], "eps": 1e-8}, "empty": {}},
        "sample": {"steps": 50},
    }
    text = dump_toml(data)
    back = tomllib.loads(text)
    assert back == data
    assert all(type(back[k]) is type(v) for k, v in data.items())  # 2.0 stays a float, True a bool


def test_dump_toml_special_floats_paths_and_none() -> None:
    text = dump_toml(
        {
            "a": math.inf,
            "b": -math.inf,
            "c": math.nan,
            "p": Path("x") / "y.png",
            "skip": None,
            "t": (1, None, 2),
        }
    )
    back = tomllib.loads(text)
    assert back["a"] == math.inf and back["b"] == -math.inf and math.isnan(back["c"])
    assert back["p"] == str(Path("x") / "y.png")
    assert "skip" not in back  # TOML has no null: a missing key means "the default"
    assert back["t"] == [1, 2]


def test_dump_toml_refuses_what_toml_cannot_hold() -> None:
    with pytest.raises(TypeError, match="object"):
        dump_toml({"x": object()})


def test_save_and_load_config(tmp_path: Path) -> None:
    config = ToyConfig(steps=5, out=Path("a/b"), targets=("q_proj",), resume=None, extra={"k": {"v": 1}})
    path = save_config(config, tmp_path / "config.toml")
    loaded = load_toml(path)
    assert loaded == {
        "steps": 5,
        "lr": 2e-4,
        "prompt": "A photo of sks",
        "out": "a/b",
        "hflip": False,
        "targets": ["q_proj"],
        "rank": 8,
        "metric": "lpips",
        "extra": {"k": {"v": 1}},
    }
    assert build_config(ToyConfig, loaded) == config
    assert config_to_dict(config)["out"] == "a/b"


def test_load_toml_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist") as info:
        load_toml(tmp_path / "absent.toml")
    assert info.value.path == tmp_path / "absent.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3\n")
    with pytest.raises(InputFileError, match="invalid TOML") as info:
        load_toml(bad)
    assert str(bad) in str(info.value)


# -- dataclass -> argparse ------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    parser.add_argument("--config", type=Path)
    add_config_arguments(parser, ToyConfig)
    return parser


def test_defaults_when_nothing_is_given() -> None:
    config, _ = parse_config(ToyConfig, [], make_parser())
    assert config == ToyConfig()


def test_file_values_override_defaults_and_cli_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'steps = 30\nlr = 1\nprompt = "from file"\ntargets = ["a", "b", "c"]\nhflip = true\n'
        "rank = 4\n[extra]\nnote = 'x'\n"
    )
    config, _ = parse_config(ToyConfig, ["--config", str(path)], make_parser())
    assert config == ToyConfig(
        steps=30, lr=1.0, prompt="from file", targets=("a", "b", "c"), hflip=True, rank=4, extra={"note": "x"}
    )
    assert isinstance(config.lr, float) and isinstance(config.targets, tuple)

    argv = [
        "--config",
        str(path),
        "--steps",
        "7",
        "--no-hflip",
        "--targets",
        "x",
        "--rank",
        "16",
        "--metric",
        "psnr",
        "--out",
        "o",
        "--resume",
        "ckpt.safetensors",
    ]
    config, _ = parse_config(ToyConfig, argv, make_parser())
    assert config == ToyConfig(
        steps=7,
        lr=1.0,
        prompt="from file",
        targets=("x",),
        hflip=False,
        rank=16,
        metric="psnr",
        out=Path("o"),
        resume=Path("ckpt.safetensors"),
        extra={"note": "x"},
    )


def test_section_of_a_shared_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 11\n\n[sample]\nsteps = 50\n")
    config, _ = parse_config(ToyConfig, ["--config", str(path)], make_parser(), section="train")
    assert config.steps == 11


def test_unknown_file_key_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text("steps = 3\nlearning_rat = 0.1\n")
    with pytest.raises(SystemExit) as info:
        parse_config(ToyConfig, ["--config", str(path)], make_parser())
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "learning_rat" in err and str(path) in err
    with pytest.raises(ValueError, match="learning_rat"):
        build_config(ToyConfig, {"learning_rat": 0.1})


def test_invalid_value_is_an_error_naming_field_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--steps", "0"], make_parser())
    assert "ToyConfig.steps=0" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--rank", "5"], ["--metric", "fid"], ["--steps", "many"]])
def test_cli_rejects_values_outside_the_type(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, argv, make_parser())
    assert argv[0] in capsys.readouterr().err


def test_help_shows_metadata_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        make_parser().parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--steps STEPS training steps (default: 2000)" in out
    assert "--hflip, --no-hflip" in out
    assert "--extra" not in out  # dict fields come from the config file only


def test_skip_leaves_out_fields() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ToyConfig, skip=("steps",))
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "3"])
    assert vars(parser.parse_args(["--lr", "0.5"])) == {"lr": 0.5}


def test_missing_or_invalid_config_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, content in (("absent.toml", None), ("bad.toml", "steps = = 3\n")):
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        with pytest.raises(SystemExit) as info:
            parse_config(ToyConfig, ["--config", str(path)], make_parser())
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert str(path) in err and ("does not exist" if content is None else "invalid TOML") in err


# -- the helpers every config is written with -----------------------------------------------------------


@dataclass(frozen=True)
class HelperConfig:
    out: Path | None = config_field(None, "output folder")
    inputs: tuple[Path, ...] = config_field((), "input files")
    name: str = config_field("x", "a name that is not a path")
    steps: int = config_field(3, "steps")

    def __post_init__(self) -> None:
        coerce_paths(self)
        require(self, self.steps >= 1, "steps", "must be >= 1")


def test_config_field_carries_default_and_help() -> None:
    from dataclasses import fields

    by_name = {f.name: f for f in fields(HelperConfig)}
    assert by_name["steps"].default == 3 and by_name["steps"].metadata["help"] == "steps"
    assert by_name["out"].default is None and by_name["out"].metadata["help"] == "output folder"
    assert HelperConfig().inputs == ()


def test_require_names_class_field_and_value() -> None:
    with pytest.raises(ValueError) as info:
        HelperConfig(steps=0)
    assert str(info.value) == "HelperConfig.steps=0: must be >= 1"
    require(HelperConfig(), True, "steps", "never raised")


def test_coerce_paths_turns_strings_into_paths_and_leaves_other_fields() -> None:
    config = HelperConfig(out="runs/x", inputs=["a.png", Path("b.png")], name="runs/y")  # type: ignore[arg-type]
    assert config.out == Path("runs/x") and type(config.out) is not str
    assert config.inputs == (Path("a.png"), Path("b.png")) and isinstance(config.inputs, tuple)
    assert config.name == "runs/y"  # a str field stays a str
    assert HelperConfig().out is None
