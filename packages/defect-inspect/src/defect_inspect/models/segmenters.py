"""Segmenters from segmentation-models-pytorch: UNet (DefectFill's localization model, trained with focal
loss), DeepLabV3+ and SegFormer with the MiT-B0 encoder (Defect Spectrum), FPN.

Any smp encoder works (``resnet34``, ``mit_b0``, ``efficientnet-b0``, ``tu-<timm name>``, ...). ImageNet
encoder weights come from the Hugging Face cache (smp's ``smp-hub/<encoder>.imagenet`` repositories; timm's
for ``tu-`` encoders), see :mod:`defect_inspect.models.pretrained`.
"""

from __future__ import annotations

import logging

from torch import nn

from defect_inspect.models.pretrained import explicit_weights, hf_weights, load_state_dict_file
from defect_inspect.models.registry import ModelRequest, register_model

logger = logging.getLogger(__name__)

TIMM_ENCODER_PREFIX = "tu-"

#: architecture -> (smp class name, default encoder)
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "unet": ("Unet", "resnet34"),
    "deeplabv3plus": ("DeepLabV3Plus", "resnet34"),
    "fpn": ("FPN", "resnet34"),
    "segformer": ("Segformer", "mit_b0"),
}


def default_encoder(architecture: str) -> str:
    """The encoder an architecture gets when none is named."""
    return ARCHITECTURES[architecture.lower()][1]


def _build(architecture: str, request: ModelRequest) -> nn.Module:
    import segmentation_models_pytorch as smp

    class_name, default = ARCHITECTURES[architecture]
    encoder = request.encoder or default
    extra: dict[str, object] = {}
    encoder_weights: object = None
    if request.pretrained and encoder.startswith(TIMM_ENCODER_PREFIX):
        from defect_inspect.models.classifiers import timm_weights_file

        timm_name = encoder[len(TIMM_ENCODER_PREFIX) :]
        weights = explicit_weights(request.weights) if request.weights else timm_weights_file(timm_name)
        # smp hands extra keyword arguments to timm.create_model, which then reads this file
        encoder_weights, extra = True, {"pretrained_cfg_overlay": {"file": str(weights)}}
    try:
        model = getattr(smp, class_name)(
            encoder_name=encoder, encoder_weights=encoder_weights, classes=request.num_outputs, **extra
        )
    except KeyError as exc:
        raise ValueError(
            f"{architecture}: unknown encoder {encoder!r} ({exc.args[0] if exc.args else exc})"
        ) from exc
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise ValueError(f"{architecture} cannot use encoder {encoder!r}: {exc}") from exc
    if request.pretrained and not encoder.startswith(TIMM_ENCODER_PREFIX):
        model.encoder.load_state_dict(load_state_dict_file(_smp_encoder_weights(encoder, request)))
    return model


def _smp_encoder_weights(encoder: str, request: ModelRequest):
    if request.weights:
        return explicit_weights(request.weights)
    from segmentation_models_pytorch.encoders import encoders

    settings = encoders.get(encoder, {}).get("pretrained_settings", {}).get("imagenet")
    if not settings:
        raise ValueError(
            f"smp has no ImageNet weights for encoder {encoder!r}: use --no-pretrained or --weights FILE"
        )
    return hf_weights(
        f"smp encoder {encoder!r}", settings["repo_id"], ("model.safetensors",), settings.get("revision")
    )


@register_model("segmenter", "unet")
def unet(request: ModelRequest) -> nn.Module:
    """UNet (Ronneberger et al. 2015) with an smp encoder (default ResNet-34)."""
    return _build("unet", request)


@register_model("segmenter", "deeplabv3plus")
def deeplabv3plus(request: ModelRequest) -> nn.Module:
    """DeepLabV3+ (Chen et al. 2018) with an smp encoder (default ResNet-34)."""
    return _build("deeplabv3plus", request)


@register_model("segmenter", "fpn")
def fpn(request: ModelRequest) -> nn.Module:
    """Feature Pyramid Network decoder with an smp encoder (default ResNet-34)."""
    return _build("fpn", request)


@register_model("segmenter", "segformer")
def segformer(request: ModelRequest) -> nn.Module:
    """SegFormer (Xie et al. 2021) with a Mix Transformer encoder (default MiT-B0)."""
    return _build("segformer", request)
