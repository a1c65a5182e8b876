"""`pip install defect-sample` alone must be enough to generate defects (DESIGN.md §2).

Builds the wheels of defect-core and defect-sample exactly as they would be published (``--no-sources``:
no workspace paths), installs only those two into a fresh virtual environment, and checks there that the
sampler imports, its CLI answers, builtin:tiny draws an image, and the other packages are absent.

Their dependencies come from the registry pinned to the versions of ``uv.lock`` (as constraints, which add
no package), so that the uv cache serves them and the test checks the versions the workspace is tested with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ABSENT = ("defect_train", "defect_metrics", "defect_inspect")

PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import defect_core, defect_sample
    report = {"prefix": sys.prefix, "sample_file": defect_sample.__file__,
              "sample_version": defect_sample.__version__}
    modules = sorted(m.name for m in pkgutil.walk_packages(defect_sample.__path__, "defect_sample."))
    for name in modules:
        importlib.import_module(name)  # every module's imports are declared dependencies
    report["sample_modules"] = modules
    absent = {}
    for name in %r:
        try:
            importlib.import_module(name)
            absent[name] = "importable"
        except ModuleNotFoundError as exc:
            absent[name] = exc.name
    report["absent"] = absent

    import torch
    from PIL import Image
    from defect_sample.model_loading import load_inpaint_pipeline
    torch.set_num_threads(1)
    pipe = load_inpaint_pipeline("builtin:tiny")
    image = pipe(prompt="a photo of sks", image=Image.new("RGB", (64, 64), (90, 90, 90)),
                 mask_image=Image.new("L", (64, 64), 255), height=64, width=64, num_inference_steps=2,
                 generator=torch.Generator().manual_seed(0)).images[0]
    report["image_size"] = list(image.size)

    # Defect-Gen: a tiny generator folder for the CLI run below (the slim install samples it)
    from diffusers import UNet2DModel
    from defect_core.generator_card import GeneratorCard
    from defect_sample.defectgen import save_generator

    def tiny_unet(seed):
        torch.manual_seed(seed)
        return UNet2DModel(sample_size=32, in_channels=6, out_channels=6, block_out_channels=(8, 16),
                           layers_per_block=1, norm_num_groups=4, down_block_types=("DownBlock2D",) * 2,
                           up_block_types=("UpBlock2D",) * 2)

    card = GeneratorCard(object_name="bottle", classes={1: "crack", 2: "hole"}, resolution=32, size="cpu")
    save_generator("generator", tiny_unet(1), tiny_unet(2), card)
    print(json.dumps(report))
    """
)


def run(
    cmd: list[str | Path], env: dict[str, str], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slim
def test_slim_install_of_core_and_sample(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv must be on PATH (the slim-install test builds wheels and a virtual environment with it)"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update({"DEFECTFILL_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"})
    started = time.perf_counter()

    dist = tmp_path / "dist"
    for package in ("defect-core", "defect-sample"):
        run([uv, "build", "--package", package, "--no-sources", "--wheel", "-o", dist], env, REPO)
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["defect_core", "defect_sample"], wheels

    constraints = tmp_path / "constraints.txt"
    run(
        [
            uv,
            "export",
            "--frozen",
            "--no-hashes",
            "--no-emit-workspace",
            "--no-header",
            "--format",
            "requirements-txt",
            "-o",
            constraints,
        ],
        env,
        REPO,
    )

    venv = tmp_path / "venv"
    run([uv, "venv", "--python", sys.executable, venv], env, tmp_path)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    run([uv, "pip", "install", "--python", python, "-c", constraints, *wheels], env, tmp_path)
    installed_at = time.perf_counter()

    freeze = run([uv, "pip", "freeze", "--python", python], env, tmp_path).stdout.lower()
    # scikit-image is the demo extra of defect-core, gradio the review extra of defect-sample: neither is asked for
    for package in ("defect-train", "defect-metrics", "defect-inspect", "scikit-image", "gradio"):
        assert f"{package}==" not in freeze and f"{package} @" not in freeze, package

    # run from an empty folder so nothing of the checkout can be imported by accident
    probe = run([python, "-c", PROBE % (ABSENT,)], env, tmp_path)
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(report["prefix"]).resolve() == venv.resolve()
    assert Path(report["sample_file"]).resolve().is_relative_to(venv.resolve())
    assert report["sample_version"] != "0.0.0"  # installed metadata, not a source tree
    assert "defect_sample.model_loading" in report["sample_modules"]
    assert report["absent"] == {name: name for name in ABSENT}
    assert report["image_size"] == [64, 64]

    cli = run([bindir / "defect-sample", "--help"], env, tmp_path)
    assert "defect-sample" in cli.stdout
    version = run([bindir / "defect-sample", "--version"], env, tmp_path)
    assert report["sample_version"] in version.stdout

    # Defect-Gen sampling in the slim install: images, masks, class labels and their manifest
    out = tmp_path / "defectgen_out"
    argv = ["defectgen", "--generator", tmp_path / "generator", "--count", "2", "--steps", "2", "--out", out]
    sampled = run([bindir / "defect-sample", *argv, "--device", "cpu", "--quiet"], env, tmp_path)
    assert "2 image(s) written" in sampled.stdout
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in records] == ["bottle_00000", "bottle_00001"]
    for r in records:
        assert r["classes"] == {"1": "crack", "2": "hole"} and r["concept"] == "defectgen:bottle"
        assert all((out / r[key]).is_file() for key in ("image", "mask", "labels"))
    assert (out / "preview.png").is_file()

    total = time.perf_counter() - started
    print(f"slim install: build + venv + install {installed_at - started:.1f} s, total {total:.1f} s")
