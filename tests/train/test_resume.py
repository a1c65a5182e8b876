"""Checkpoints: resume is bitwise identical to an uninterrupted run; Ctrl-C checkpoints; NaN stops cleanly."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest
import torch
from safetensors.numpy import load_file

import defect_train.trainer as trainer
from defect_train.checkpoints import list_checkpoints
from defect_train.trainer import NonFiniteLossError, TrainingInterrupted, train_concept


def _tensors(path):
    return load_file(str(path))


def _assert_same(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key


def test_resume_equals_uninterrupted_run(fast_config, tmp_path) -> None:
    full = train_concept(replace(fast_config, output_dir=tmp_path / "full"))
    part = replace(fast_config, output_dir=tmp_path / "part")
    train_concept(replace(part, steps=2))
    assert [p.name for p in list_checkpoints(part.output_dir)] == ["step-000002"]
    resumed = train_concept(replace(part, resume=True))
    _assert_same(_tensors(full), _tensors(resumed))
    # the loss log continues without duplicates
    steps = [line.split(",")[0] for line in (part.output_dir / "loss.csv").read_text().splitlines()[1:]]
    assert steps == ["1", "2", "3", "4"]
    for name in ("config.toml", "loss.png", "manifest.json", "train.log"):
        assert (part.output_dir / name).is_file(), name


def test_ctrl_c_writes_checkpoint_and_resume_continues(fast_config, tmp_path, monkeypatch) -> None:
    full = train_concept(replace(fast_config, output_dir=tmp_path / "full", checkpoint_every=0))
    config = replace(fast_config, output_dir=tmp_path / "interrupted", checkpoint_every=0)
    original_draw = trainer.DefectPairs.draw
    calls = {"n": 0}

    def draw_then_interrupt(self, rng):
        calls["n"] += 1
        if calls["n"] == 3:  # during step 3, as if the user pressed Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
        return original_draw(self, rng)

    monkeypatch.setattr(trainer.DefectPairs, "draw", draw_then_interrupt)
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train_concept(config)
    assert [p.name for p in list_checkpoints(config.output_dir)] == ["step-000003"]
    assert not config.concept_path.exists()
    monkeypatch.setattr(trainer.DefectPairs, "draw", original_draw)
    resumed = train_concept(replace(config, resume=True))
    _assert_same(_tensors(full), _tensors(resumed))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(fast_config, monkeypatch) -> None:
    original = trainer.DefectFillObjective.__call__
    calls = {"n": 0}

    def poisoned(self, *args):
        calls["n"] += 1
        losses = original(self, *args)
        if calls["n"] == 3:
            return replace(losses, total=losses.total * torch.tensor(float("nan")))
        return losses

    monkeypatch.setattr(trainer.DefectFillObjective, "__call__", poisoned)
    with pytest.raises(NonFiniteLossError, match="step 3.*step-000002"):
        train_concept(fast_config)
    assert [p.name for p in list_checkpoints(fast_config.output_dir)] == ["step-000002"]
    assert not fast_config.concept_path.exists()
