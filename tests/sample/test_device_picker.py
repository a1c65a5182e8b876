"""defect-sample's device picker (defect-train's too): ``auto``, explicit devices, and one GPU per process of a
multi-process launch."""

from __future__ import annotations

import pytest
import torch

from defect_sample.devices import process_device, resolve_device


@pytest.fixture
def gpu(monkeypatch):
    """Pretend a GPU is visible (only ``torch.cuda.is_available`` is asked; no tensor goes there)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_the_gpu_when_there_is_one(gpu) -> None:
    assert resolve_device() == torch.device("cuda")
    assert resolve_device(None) == torch.device("cuda")
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cuda", 2)) == torch.device("cuda", 2)


def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused(no_gpu) -> None:
    assert resolve_device("auto", local_rank=1) == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        resolve_device(torch.device("cuda", 0))


@pytest.mark.parametrize(
    ("world", "local_rank", "expected"),
    [
        ("1", "3", torch.device("cuda")),  # a single process keeps the default GPU
        ("4", "3", torch.device("cuda", 3)),
        ("2", "", torch.device("cuda", 0)),
    ],
)
def test_process_device_gives_each_process_its_gpu(
    gpu, monkeypatch, world: str, local_rank: str, expected: torch.device
) -> None:
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    assert process_device("auto") == expected
    assert process_device("cuda:0") == torch.device("cuda", 0)  # explicit wins
