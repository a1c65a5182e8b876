"""What ``--device`` means, decided without torch (the torch packages pass in whether CUDA is there)."""

from __future__ import annotations

import pytest

from defect_core.devices import choose_device


@pytest.mark.parametrize(
    ("requested", "cuda", "local_rank", "expected"),
    [
        ("auto", True, None, "cuda"),
        (None, True, None, "cuda"),
        ("auto", False, None, "cpu"),
        (None, False, 3, "cpu"),
        ("auto", True, 2, "cuda:2"),  # one process of a multi-process launch: its own GPU
        ("cpu", True, 2, "cpu"),
        ("cuda:1", True, 0, "cuda:1"),  # an explicit device is taken as given, rank or not
        (" mps ", False, None, "mps"),
    ],
)
def test_choose_device(requested, cuda: bool, local_rank, expected: str) -> None:
    assert choose_device(requested, cuda_available=cuda, local_rank=local_rank) == expected


@pytest.mark.parametrize("requested", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_an_error_naming_the_device(requested: str) -> None:
    with pytest.raises(ValueError, match=f"device '{requested}' was asked for but no CUDA GPU is visible"):
        choose_device(requested, cuda_available=False)
