"""Defect-Gen training runs: bitwise resume, Ctrl-C, the EMA in the loop, and the command line end to end."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import defect_train.defectgen.network_training as network_training
from defect_core.errors import InputFileError
from defect_sample.defectgen import load_generator
from defect_train.checkpoints import list_checkpoints
from defect_train.cli import main
from defect_train.defectgen.config import DefectGenTrainConfig
from defect_train.defectgen.trainer import train_defectgen
from defect_train.interrupt import TrainingInterrupted


@pytest.fixture
def tiny_config(tmp_path: Path) -> DefectGenTrainConfig:
    """The cpu pair on the demo brick at 16 px, 4 steps per network, no preview."""
    return DefectGenTrainConfig(
        dataset="demo",
        size="cpu",
        resolution=16,
        steps=4,
        learning_rate=1e-3,
        checkpoint_every=2,
        log_every=1,
        preview_count=0,
        output_dir=tmp_path / "run",
        device="cpu",
    )


def _final_state(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Weights and EMA weights of both networks in their newest checkpoints."""
    return {
        role: load_file(str(list_checkpoints(run_dir / role)[-1] / "lora.safetensors"))
        for role in ("large", "small")
    }


def _assert_bitwise_equal(a, b) -> None:
    for role in ("large", "small"):
        assert a[role].keys() == b[role].keys()
        assert any(k.startswith("ema.") for k in a[role]) and any(k.startswith("model.") for k in a[role])
        for key in a[role]:
            assert torch.equal(a[role][key], b[role][key]), (role, key)


def test_resume_is_bitwise_equal_to_an_uninterrupted_run(tiny_config, tmp_path, one_torch_thread) -> None:
    full = replace(tiny_config, output_dir=tmp_path / "full")
    folder = train_defectgen(full)
    part = replace(tiny_config, output_dir=tmp_path / "part")
    train_defectgen(replace(part, steps=2))
    assert [p.name for p in list_checkpoints(part.output_dir / "large")] == ["step-000002"]
    train_defectgen(replace(part, resume=True))
    _assert_bitwise_equal(_final_state(full.output_dir), _final_state(part.output_dir))
    # the generator holds the EMA weights, identical too
    a, b = load_generator(folder), load_generator(part.generator_dir)
    for name in ("large", "small"):
        for (k, x), (_, y) in zip(
            getattr(a, name).state_dict().items(), getattr(b, name).state_dict().items(), strict=True
        ):
            assert torch.equal(x, y), (name, k)
    steps = [
        line.split(",")[0] for line in (part.output_dir / "small" / "loss.csv").read_text().splitlines()[1:]
    ]
    assert steps == ["1", "2", "3", "4"]
    manifest = json.loads((part.output_dir / "manifest.json").read_text())
    assert manifest["networks"]["large"]["resumed_from_step"] == 2
    assert a.card.classes == {1: "hole", 2: "scratch"} and a.card.size == "cpu"
    assert a.card.training["data"]["large"][0] == "brick/test/hole/000.png"


def test_generator_holds_the_ema_weights(tiny_config, monkeypatch, one_torch_thread) -> None:
    """The EMA shadow after the last step follows shadow <- d_k shadow + (1 - d_k) weights_k, d_k = min(decay,
    (1 + k) / (10 + k)), from the initial weights; the generator folder holds it, not the raw weights."""
    seen: dict[str, list[dict[str, torch.Tensor]]] = {"large": [], "small": []}

    def record(report) -> None:
        seen[report.role].append({n: p.detach().clone() for n, p in report.model.named_parameters()})

    initial: dict[str, dict[str, torch.Tensor]] = {}
    original = network_training.EmaWeights.__init__

    def keep_initial(self, module, decay):
        original(self, module, decay)
        initial[next(r for r in ("large", "small") if r not in initial)] = {
            n: p.detach().clone() for n, p in module.named_parameters()
        }

    monkeypatch.setattr(network_training.EmaWeights, "__init__", keep_initial)
    folder = train_defectgen(replace(tiny_config, steps=3), on_step=record)
    generator = load_generator(folder)
    for role in ("large", "small"):
        expected = {n: t.clone() for n, t in initial[role].items()}
        for k, weights in enumerate(seen[role]):
            d = min(tiny_config.ema_decay, (1 + k) / (10 + k))
            expected = {n: d * expected[n] + (1 - d) * weights[n] for n in expected}
        saved = dict(getattr(generator, role).named_parameters())
        for name, value in expected.items():
            torch.testing.assert_close(saved[name], value, rtol=1e-5, atol=1e-6)
        assert not torch.equal(saved["conv_out.weight"], seen[role][-1]["conv_out.weight"])


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes_the_same(
    tiny_config, tmp_path, monkeypatch, one_torch_thread
) -> None:
    config = replace(tiny_config, checkpoint_every=0)
    train_defectgen(replace(config, output_dir=tmp_path / "full"))
    interrupted = replace(config, output_dir=tmp_path / "interrupted")
    original_draw = network_training.draw_batch
    calls = {"n": 0}

    def draw_then_interrupt(state, samples, batch_size):
        calls["n"] += 1
        if calls["n"] == 3:  # during the large network's step 3, as if the user pressed Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
        return original_draw(state, samples, batch_size)

    monkeypatch.setattr(network_training, "draw_batch", draw_then_interrupt)
    with pytest.raises(TrainingInterrupted, match=r"step 3 of the large network.*--resume"):
        train_defectgen(interrupted)
    assert [p.name for p in list_checkpoints(interrupted.output_dir / "large")] == ["step-000003"]
    assert not (interrupted.output_dir / "generator").exists()
    monkeypatch.setattr(network_training, "draw_batch", original_draw)
    train_defectgen(replace(interrupted, resume=True))
    _assert_bitwise_equal(_final_state(tmp_path / "full"), _final_state(interrupted.output_dir))


def test_cli_trains_the_demo_end_to_end(tmp_path, capsys, one_torch_thread) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "defectgen",
            "--dataset",
            "demo",
            "--steps",
            "2",
            "--resolution",
            "16",
            "--output-dir",
            str(out),
            "--preview-count",
            "2",
            "--preview-steps",
            "2",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"generator: {out / 'generator'}" in printed and str(out / "preview.png") in printed
    for name in (
        "config.toml",
        "manifest.json",
        "train.log",
        "preview.png",
        "large/loss.png",
        "small/loss.csv",
    ):
        assert (out / name).is_file(), name
    generator = load_generator(out / "generator")
    # the demo preset filled in the cpu pair; the flags given won over it
    assert generator.card.size == "cpu" and generator.card.resolution == 16
    assert generator.card.training["config"]["steps"] == 2
    assert generator.large.config.in_channels == 6
    config_text = (out / "config.toml").read_text()
    assert 'size = "cpu"' in config_text and "steps = 2" in config_text


def test_cli_names_bad_input(tmp_path, capsys) -> None:
    code = main(
        ["defectgen", "--dataset", "demo", "--defect-names", "hole,dent", "--output-dir", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown defect 'dent'" in err and "hole, scratch" in err
    with pytest.raises(SystemExit) as exc:
        main(["defectgen", "--size", "huge"])
    assert exc.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_resuming_a_checkpoint_of_other_classes_is_named(tiny_config, one_torch_thread) -> None:
    train_defectgen(replace(tiny_config, steps=1, defect_names=("hole",)))  # 3 + 1 + 1 channels
    with pytest.raises(InputFileError, match=r"large/checkpoints: the newest checkpoint does not fit"):
        train_defectgen(replace(tiny_config, steps=2, resume=True))  # hole and scratch: 3 + 1 + 2 channels
