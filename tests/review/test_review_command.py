"""``defect-sample review`` on the command line: the missing extra, the exposure warning, the slim install."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement

from defect_sample.cli import main
from defect_sample.review.command import exposure_warning
from defect_sample.review.config import ReviewConfig


def test_without_the_extra_the_command_names_it_and_writes_nothing(tmp_path, normals, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ImportError
    out = tmp_path / "out"
    code = main(["review", "--normals", str(normals), "--out", str(out), "--base-model", "builtin:tiny"])
    assert code == 1
    err = capsys.readouterr().err
    assert (
        "needs gradio, which the optional 'review' extra installs" in err
        and "pip install 'defect-sample[review]'" in err
    )
    assert not out.exists()


def test_review_help_lists_the_safety_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["review", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag in ("--host", "--auth", "--max-upload-mb", "--max-upload-side", "--real", "--concept"):
        assert flag in text
    assert "default: '127.0.0.1'" in text


def test_other_hosts_are_warned_about_and_auth_is_suggested(tmp_path):
    base = dict(normals=tmp_path, out=tmp_path / "out", base_model="builtin:tiny")
    assert exposure_warning(ReviewConfig(**base)) is None
    assert exposure_warning(ReviewConfig(**base, host="localhost")) is None
    open_warning = exposure_warning(ReviewConfig(**base, host="0.0.0.0", port=9000))
    assert "0.0.0.0:9000" in open_warning and "add --auth USER:PASS" in open_warning
    guarded = exposure_warning(ReviewConfig(**base, host="0.0.0.0", auth="me:secret"))
    assert "asks for the --auth user and password" in guarded


def test_the_base_install_does_not_require_gradio_or_defect_metrics():
    requirements = [Requirement(r) for r in requires("defect-sample")]
    for package in ("gradio", "defect-metrics"):
        found = [r for r in requirements if r.name.replace("_", "-").lower() == package]
        assert found, package
        for requirement in found:  # only with the extra, never in the base install
            assert requirement.marker is not None and not requirement.marker.evaluate({"extra": ""})
            assert requirement.marker.evaluate({"extra": "review"})


def test_importing_the_review_package_imports_neither_gradio_nor_defect_metrics():
    probe = (
        "import importlib, pkgutil, sys, defect_sample.review as r\n"
        "for m in pkgutil.walk_packages(r.__path__, 'defect_sample.review.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in ('gradio', 'defect_metrics') if n in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
