"""The LPIPS network: trunk weights from torchvision's hub cache (never downloaded), and the embedding
distance equal to ``lpips.LPIPS.forward``."""

from __future__ import annotations

import pytest
import torch
import torchvision

import defect_metrics.weights as weights
from defect_core.errors import InputFileError
from defect_metrics import LPIPSEmbedder, MissingWeightsError, load_lpips
from defect_metrics.lpips_embedding import squared_distances


@pytest.mark.parametrize("net", ["alex", "squeeze"])
def test_embedding_distance_equals_lpips_forward(net):
    torch.manual_seed(0)
    network = load_lpips(net, random_backbone=True)
    a = torch.rand(4, 3, 64, 64) * 2 - 1
    b = torch.rand(3, 3, 64, 64) * 2 - 1
    ours = squared_distances(LPIPSEmbedder(network)(a), LPIPSEmbedder(network)(b))
    with torch.no_grad():
        reference = torch.stack([network(a[i : i + 1].expand(3, -1, -1, -1), b).flatten() for i in range(4)])
    torch.testing.assert_close(ours, reference.double(), atol=1e-6, rtol=1e-5)


def test_trunk_weights_come_from_the_hub_cache():
    torch.manual_seed(1)
    checkpoint = torchvision.models.alexnet(weights=None).state_dict()
    cache = weights.torch_hub_checkpoints_dir()
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, cache / "alexnet-owt-7be5be79.pth")
    network = load_lpips("alex")
    trunk = network.net.state_dict()
    assert len(trunk) == 10  # five convolutions, weight and bias each
    for key, value in trunk.items():
        _, index, name = key.split(".")
        torch.testing.assert_close(value, checkpoint[f"features.{index}.{name}"], rtol=0, atol=0)
    # The calibrated linear layers shipped with lpips are loaded too (they are not all zero or random).
    assert all(float(layer.model[-1].weight.min()) >= 0 for layer in network.lins)


def test_missing_backbone_names_the_file_and_where_it_goes():
    with pytest.raises(MissingWeightsError) as error:
        load_lpips("alex")
    expected = weights.torch_hub_checkpoints_dir() / "alexnet-owt-7be5be79.pth"
    assert str(expected) in str(error.value)
    assert "download.pytorch.org/models/alexnet-owt-7be5be79.pth" in str(error.value)


def test_wrong_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "not_alexnet.pth"
    torch.save({"something.else": torch.zeros(3)}, path)
    with pytest.raises(InputFileError, match="features.0.weight"):
        load_lpips("alex", backbone_weights=path)
    with pytest.raises(ValueError, match="net must be"):
        load_lpips("resnet", random_backbone=True)


def test_core_hub_cache_path_is_torchs_own(tmp_path):
    """defect_core.weight_files finds torch's hub folder without importing torch: compare with torch itself."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xdg"))

    def ask(code: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
        ).stdout.strip()

    core = ask(
        "import sys; from defect_core.weight_files import torch_hub_checkpoints_dir as d; "
        "assert 'torch' not in sys.modules; print(d())"
    )
    reference = ask("import os, torch.hub; print(os.path.join(torch.hub.get_dir(), 'checkpoints'))")
    assert core == reference == str(tmp_path / "xdg" / "torch" / "hub" / "checkpoints")
