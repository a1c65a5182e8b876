"""defect-metrics' device picker (defect-inspect's too) reads ``--device`` as defect-sample's does."""

from __future__ import annotations

import pytest
import torch

from defect_metrics import resolve_device


@pytest.mark.parametrize("available", [True, False])
def test_auto_none_and_explicit(monkeypatch, available: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    expected = torch.device("cuda" if available else "cpu")
    assert (
        resolve_device() == expected
        and resolve_device(None) == expected
        and resolve_device("auto") == expected
    )
    assert resolve_device("cpu") == torch.device("cpu")
    if available:
        assert resolve_device("cuda:1") == torch.device("cuda", 1)
    else:
        with pytest.raises(ValueError, match="'cuda:1' was asked for but no CUDA GPU is visible"):
            resolve_device("cuda:1")
