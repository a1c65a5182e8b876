"""The table of pretrained files, their cache folders and the LPIPS trunk mapping, without torch: cache paths
follow the environment as torch's hub does, missing files name where they go, and a checkpoint is mapped
onto LPIPS' trunk names (stand-in tensors with a ``shape``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import defect_core.weight_files as weight_files
from defect_core.errors import InputFileError, MissingWeightsError


def _hub_dir_in_fresh_process(env: dict[str, str]) -> Path:
    # a process of its own: torch is not imported there, so the environment rule is what answers
    code = (
        "import sys; from defect_core.weight_files import torch_hub_checkpoints_dir as d; "
        "print(d()); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out[1] == "False"
    return Path(out[0])


def test_torch_hub_dir_follows_torch_home_then_xdg_then_home(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
    base["HOME"] = str(tmp_path / "home")
    assert _hub_dir_in_fresh_process(base) == tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    xdg = {**base, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert _hub_dir_in_fresh_process(xdg) == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    both = {**xdg, "TORCH_HOME": "~/th"}
    assert _hub_dir_in_fresh_process(both) == tmp_path / "home" / "th" / "hub" / "checkpoints"


def test_torch_hub_file_is_the_last_url_component(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert weight_files.torch_hub_file("https://download.pytorch.org/models/resnet18-f37072fd.pth") == (
        tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    )


def test_lpips_backbone_path_names_the_missing_file_its_source_and_the_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    with pytest.raises(MissingWeightsError) as info:
        weight_files.lpips_backbone_path("alex", way_out="use --select psnr")
    assert isinstance(info.value, FileNotFoundError) and info.value.path == expected
    text = str(info.value)
    assert str(expected) in text and "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in text
    assert text.endswith("or use --select psnr.")
    expected.parent.mkdir(parents=True)
    expected.write_bytes(b"x")
    assert weight_files.lpips_backbone_path("alex") == expected
    explicit = tmp_path / "mine.pth"
    with pytest.raises(MissingWeightsError, match="mine.pth"):
        weight_files.lpips_backbone_path("vgg", explicit)
    with pytest.raises(ValueError, match="net must be one of"):
        weight_files.lpips_backbone_path("resnet")


def test_inception_is_looked_up_in_both_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weight_files, "clean_fid_cache_dir", lambda: tmp_path / "clean-fid")
    first = tmp_path / "clean-fid" / "inception-2015-12-05.pt"
    second = tmp_path / "torch" / "hub" / "checkpoints" / "inception-2015-12-05.pt"
    with pytest.raises(MissingWeightsError) as info:
        weight_files.inception_weights_path()
    assert info.value.path == first and f"also looked in: {second}" in str(info.value)
    second.parent.mkdir(parents=True)
    second.write_bytes(b"x")
    assert weight_files.inception_weights_path() == second


class _Tensor:
    def __init__(self, *shape: int) -> None:
        self.shape = shape


class _Trunk:
    """LPIPS' AlexNet trunk as far as the mapping sees it: names, shapes, and load_state_dict."""

    def __init__(self) -> None:
        self.loaded: dict | None = None

    def state_dict(self) -> dict[str, _Tensor]:
        return {
            "slice1.0.weight": _Tensor(64, 3, 11, 11),
            "slice1.0.bias": _Tensor(64),
            "slice2.3.weight": _Tensor(192, 64, 5, 5),
        }

    def load_state_dict(self, state: dict) -> None:
        self.loaded = state


def test_load_lpips_trunk_maps_torchvision_names_onto_the_slices(tmp_path: Path) -> None:
    checkpoint = {
        "features.0.weight": _Tensor(64, 3, 11, 11),
        "features.0.bias": _Tensor(64),
        "features.3.weight": _Tensor(192, 64, 5, 5),
        "classifier.1.weight": _Tensor(4096, 9216),
    }
    calls = []

    def fake_load(path, **kwargs):
        calls.append((path, kwargs))
        return checkpoint

    trunk = _Trunk()
    weight_files.load_lpips_trunk(trunk, tmp_path / "alex.pth", fake_load)
    assert calls == [(tmp_path / "alex.pth", {"map_location": "cpu", "weights_only": True})]
    assert trunk.loaded == {
        "slice1.0.weight": checkpoint["features.0.weight"],
        "slice1.0.bias": checkpoint["features.0.bias"],
        "slice2.3.weight": checkpoint["features.3.weight"],
    }


@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        (
            {"features.0.weight": _Tensor(64, 3, 11, 11), "features.0.bias": _Tensor(64)},
            "has no 'features.3.weight'",
        ),
        (
            {
                "features.0.weight": _Tensor(64, 3, 3, 3),
                "features.0.bias": _Tensor(64),
                "features.3.weight": _Tensor(192, 64, 5, 5),
            },
            r"features.0.weight has shape \(64, 3, 3, 3\)",
        ),
        ([1, 2], "holds a list, not a state dict"),
    ],
)
def test_load_lpips_trunk_rejects_another_file_naming_it(tmp_path: Path, checkpoint, message: str) -> None:
    trunk = _Trunk()
    with pytest.raises(InputFileError, match=message) as info:
        weight_files.load_lpips_trunk(trunk, tmp_path / "other.pth", lambda path, **kwargs: checkpoint)
    assert info.value.path == tmp_path / "other.pth" and trunk.loaded is None


def test_load_lpips_trunk_names_an_unreadable_file(tmp_path: Path) -> None:
    def corrupt(path, **kwargs):
        raise RuntimeError("PytorchStreamReader failed reading zip archive")

    with pytest.raises(InputFileError, match="cannot be read as a torch checkpoint.*zip archive"):
        weight_files.load_lpips_trunk(_Trunk(), tmp_path / "broken.pth", corrupt)


def test_missing_weights_without_any_file_says_so() -> None:
    error = MissingWeightsError(
        "timm model 'x': pretrained ImageNet",
        None,
        "a weights file",
        reason="timm knows none",
        way_out="train with --no-pretrained",
    )
    assert error.path is None
    assert str(error) == (
        "timm model 'x': pretrained ImageNet weights: none exist (timm knows none); "
        "train with --no-pretrained."
    )
