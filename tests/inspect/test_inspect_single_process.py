"""defect-inspect runs in one process: its help says so, and a multi-process launch is refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from defect_inspect.cli import main


def test_help_says_single_process(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Single process: every subcommand runs in one process" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train-classifier", "experiment"])
def test_a_torchrun_launch_is_refused_with_a_message(command, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main([command, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"defect-inspect {command}: error: runs in a single process, but this is one of 2 processes" in err
    assert not (tmp_path / "out").exists()
