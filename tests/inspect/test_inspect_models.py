"""Models: the registry, output shapes, ImageNet weights from the caches (fake ones here), losses."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from defect_inspect import MissingWeightsError, available_models, create_model, register_model
from defect_inspect.models.losses import binary_focal_loss, multiclass_focal_loss, segmentation_loss

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("kind", "name", "encoder", "outputs", "shape"),
    [
        ("classifier", "test_efficientnet", None, 3, (2, 3)),
        ("detector", "test_efficientnet", None, 1, (2, 1)),
        ("classifier", "torchvision/resnet18", None, 4, (2, 4)),
        ("segmenter", "unet", "resnet18", 1, (2, 1, 32, 32)),
        ("segmenter", "deeplabv3plus", "resnet18", 3, (2, 3, 32, 32)),
        ("segmenter", "segformer", None, 1, (2, 1, 32, 32)),  # MiT-B0 by default
        ("segmenter", "unet", "mit_b0", 1, (2, 1, 32, 32)),
    ],
)
def test_models_have_the_asked_outputs(kind, name, encoder, outputs, shape) -> None:
    model = create_model(kind, name, False, num_outputs=outputs, encoder=encoder).eval()
    with torch.no_grad():
        assert tuple(model(X).shape) == shape


def test_unknown_names_are_errors_that_list_choices() -> None:
    with pytest.raises(ValueError, match="not a timm model name"):
        create_model("classifier", "resnet_nope", False, num_outputs=2)
    with pytest.raises(ValueError, match="available: deeplabv3plus, fpn, segformer, unet"):
        create_model("segmenter", "maskrcnn", False, num_outputs=1)
    with pytest.raises(ValueError, match="unknown encoder 'nope'"):
        create_model("segmenter", "unet", False, num_outputs=1, encoder="nope")
    with pytest.raises(ValueError, match="kind must be one of"):
        create_model("generator", "unet", False, num_outputs=1)
    with pytest.raises(ValueError, match="pretrained is off"):
        create_model("classifier", "resnet18", False, num_outputs=2, weights="w.safetensors")


def test_register_model_adds_a_builder() -> None:
    @register_model("detector", "tiny-test-detector")
    def tiny(request):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(request.num_outputs))

    assert "tiny-test-detector" in available_models("detector")
    assert create_model("detector", "tiny-test-detector", False, num_outputs=1)(X).shape == (2, 1)
    with pytest.raises(ValueError, match="already registered"):
        register_model("detector", "tiny-test-detector")(lambda request: None)


def _hf_snapshot(repo_id: str, revision: str, set_main: bool) -> Path:
    cache = Path(os.environ["HF_HUB_CACHE"])
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    if set_main:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)
    return snapshot


def _save_safetensors(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))


def test_missing_weights_offline_name_the_file_and_the_way_out() -> None:
    with pytest.raises(MissingWeightsError) as info:
        create_model("classifier", "resnet18", True, num_outputs=2)
    text = str(info.value)
    assert "models--timm--resnet18.a1_in1k" in text and os.environ["HF_HUB_CACHE"] in text
    assert "--no-pretrained" in text and "offline" in text
    with pytest.raises(MissingWeightsError, match=r"hub/checkpoints/resnet18-f37072fd\.pth"):
        create_model("detector", "torchvision/resnet18", True, num_outputs=1)
    with pytest.raises(MissingWeightsError, match="models--smp-hub--resnet18.imagenet"):
        create_model("segmenter", "unet", True, num_outputs=1, encoder="resnet18")


def test_timm_weights_come_from_the_hugging_face_cache() -> None:
    import timm

    torch.manual_seed(1)
    reference = timm.create_model("resnet18")
    _save_safetensors(
        reference, _hf_snapshot("timm/resnet18.a1_in1k", "a" * 40, set_main=True) / "model.safetensors"
    )
    model = create_model("classifier", "resnet18", True, num_outputs=3)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)
    assert model.fc.out_features == 3  # a new head: the file's has 1000 outputs


def test_torchvision_and_timm_tv_weights_come_from_the_torch_hub_cache() -> None:
    import torchvision

    torch.manual_seed(2)
    reference = torchvision.models.resnet18()
    path = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = create_model("detector", "torchvision/resnet18", True, num_outputs=1)
    assert torch.equal(model.conv1.weight, reference.conv1.weight) and model.fc.out_features == 1
    # timm's "tv_in1k" tag points at the same torchvision file
    timm_model = create_model("classifier", "resnet18.tv_in1k", True, num_outputs=2)
    assert torch.equal(timm_model.conv1.weight, reference.conv1.weight)


def test_smp_encoder_weights_come_from_the_cache_and_an_explicit_file(tmp_path: Path) -> None:
    import segmentation_models_pytorch as smp
    from segmentation_models_pytorch.encoders import encoders

    torch.manual_seed(3)
    reference = smp.Unet("resnet18", encoder_weights=None).encoder
    revision = encoders["resnet18"]["pretrained_settings"]["imagenet"]["revision"]
    _save_safetensors(
        reference, _hf_snapshot("smp-hub/resnet18.imagenet", revision, set_main=False) / "model.safetensors"
    )
    model = create_model("segmenter", "unet", True, num_outputs=1, encoder="resnet18")
    assert torch.equal(model.encoder.conv1.weight, reference.conv1.weight)

    torch.manual_seed(4)
    other = smp.Unet("resnet18", encoder_weights=None).encoder
    _save_safetensors(other, tmp_path / "mine.safetensors")
    explicit = create_model(
        "segmenter", "unet", True, num_outputs=1, encoder="resnet18", weights=tmp_path / "mine.safetensors"
    )
    assert torch.equal(explicit.encoder.conv1.weight, other.conv1.weight)
    from defect_core.errors import InputFileError

    with pytest.raises(InputFileError, match="weights file does not exist"):
        create_model(
            "segmenter", "unet", True, num_outputs=1, encoder="resnet18", weights=tmp_path / "none.pt"
        )


def test_binary_focal_loss_matches_the_formula() -> None:
    logits = torch.tensor([[-2.0, -0.5, 0.0, 1.5, 3.0]]).reshape(1, 1, 1, 5)
    target = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0]]).reshape(1, 1, 1, 5)
    p = 1 / (1 + np.exp(-logits.numpy().ravel()))
    t = target.numpy().ravel()
    p_t = np.where(t == 1, p, 1 - p)
    alpha_t = np.where(t == 1, 0.25, 0.75)
    expected = np.mean(-alpha_t * (1 - p_t) ** 2 * np.log(p_t))
    assert float(binary_focal_loss(logits, target)) == pytest.approx(expected, rel=1e-6)


def test_multiclass_focal_loss_matches_the_formula_and_ce_is_cross_entropy() -> None:
    logits = torch.tensor([[[[2.0, 0.1]], [[0.5, 0.3]], [[-1.0, 1.7]]]])  # (1, 3, 1, 2)
    target = torch.tensor([[[0, 2]]])
    z = logits.numpy()[0, :, 0, :]  # (3, 2)
    softmax = np.exp(z) / np.exp(z).sum(axis=0)
    p_t = softmax[[0, 2], [0, 1]]
    expected = np.mean(-((1 - p_t) ** 2) * np.log(p_t))
    assert float(multiclass_focal_loss(logits, target)) == pytest.approx(expected, rel=1e-6)
    assert float(segmentation_loss("ce", True)(logits, target)) == pytest.approx(
        np.mean(-np.log(p_t)), rel=1e-6
    )
    with pytest.raises(ValueError, match="segmentation loss"):
        segmentation_loss("dice", False)
