"""Image-level models: the defect-type classifier (DefectFill: ResNet-34) and the binary detector (DIAG:
ResNet-50), both any timm model by name, or a torchvision model as ``torchvision/<name>[.<weights>]``.

A torchvision name may carry the name of its weights after a dot, as timm's tags: ``torchvision/resnet50``
loads torchvision's ``DEFAULT`` weights (for ResNet-50 today ``IMAGENET1K_V2``), while
``torchvision/resnet50.IMAGENET1K_V1`` loads the original ones, which DIAG's detector used.

timm names may carry a pretrained tag (``resnet34.tv_in1k`` uses torchvision's ImageNet weights). ImageNet
weights are looked up in the Hugging Face cache (timm's ``hf_hub_id``), then in torch's hub cache (the
file of the tag's ``url``, where torchvision keeps its checkpoints); see :mod:`defect_inspect.models.pretrained`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from defect_core.weight_files import torch_hub_file
from defect_inspect.models.pretrained import (
    explicit_weights,
    hf_cached_file,
    hf_weights,
    load_state_dict_file,
    missing_weights,
    torch_hub_weights,
)
from defect_inspect.models.registry import ModelRequest, register_model

logger = logging.getLogger(__name__)

TORCHVISION_PREFIX = "torchvision/"
_HF_FILES = ("model.safetensors", "pytorch_model.bin")


def timm_weights_file(name: str) -> Path:
    """The ImageNet weights file of timm model ``name`` (see the module docstring for where it looks)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    what = f"timm model {name!r}"
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise missing_weights(what, None, "a weights file", "timm knows no pretrained weights for it")
    files = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else _HF_FILES
    if cfg.hf_hub_id:
        cached = hf_cached_file(cfg.hf_hub_id, files)
        if cached is not None:
            return cached
    if cfg.url and (torch_hub_file(cfg.url).is_file() or not cfg.hf_hub_id):
        return torch_hub_weights(what, cfg.url)
    return hf_weights(what, cfg.hf_hub_id, files)


def _timm_model(request: ModelRequest) -> nn.Module:
    import timm

    if not timm.is_model(request.name):
        close = timm.list_models(f"*{request.name.split('.')[0]}*")[:8]
        hint = f"; similar timm names: {', '.join(close)}" if close else ""
        raise ValueError(f"unknown {request.kind} {request.name!r}: not a timm model name{hint}")
    if not request.pretrained:
        return timm.create_model(request.name, pretrained=False, num_classes=request.num_outputs)
    weights = explicit_weights(request.weights) if request.weights else timm_weights_file(request.name)
    # timm drops the 1000-class head of the file when num_classes differs; the new head stays random
    return timm.create_model(
        request.name,
        pretrained=True,
        num_classes=request.num_outputs,
        pretrained_cfg_overlay={"file": str(weights)},
    )


def _replace_head(model: nn.Module, num_outputs: int, name: str) -> nn.Module:
    if isinstance(getattr(model, "fc", None), nn.Linear):
        model.fc = nn.Linear(model.fc.in_features, num_outputs)
    elif isinstance(getattr(model, "classifier", None), nn.Sequential) and isinstance(
        model.classifier[-1], nn.Linear
    ):
        model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_outputs)
    elif isinstance(getattr(model, "heads", None), nn.Sequential) and isinstance(model.heads[-1], nn.Linear):
        model.heads[-1] = nn.Linear(model.heads[-1].in_features, num_outputs)
    else:
        raise ValueError(
            f"torchvision model {name!r} has no linear head (fc, classifier[-1], heads[-1]) to replace"
        )
    return model


def split_torchvision_name(name: str) -> tuple[str, str | None]:
    """``"torchvision/resnet50.IMAGENET1K_V1"`` → ``("resnet50", "IMAGENET1K_V1")``; no tag → ``None``."""
    model, _, tag = name[len(TORCHVISION_PREFIX) :].partition(".")
    return model, tag or None


def torchvision_weights_url(name: str, tag: str | None) -> str:
    """The download address of torchvision model ``name``'s weights ``tag`` (``None``: its ``DEFAULT``);
    ``ValueError`` listing the model's weights for an unknown tag."""
    import torchvision

    enum = torchvision.models.get_model_weights(name)
    if tag is None:
        return enum.DEFAULT.url
    try:
        return enum[tag].url
    except KeyError:
        known = ", ".join(w.name for w in enum)
        raise ValueError(f"torchvision model {name!r} has no weights {tag!r}; available: {known}") from None


def _torchvision_model(request: ModelRequest) -> nn.Module:
    import torchvision

    name, tag = split_torchvision_name(request.name)
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"unknown {request.kind} {request.name!r}: not a torchvision classification model")
    url = torchvision_weights_url(name, tag)  # an unknown tag is an error even without --pretrained
    model = torchvision.models.get_model(name, weights=None)
    if request.pretrained:
        if request.weights:
            path = explicit_weights(request.weights)
        else:
            path = torch_hub_weights(f"torchvision model {name!r} ({tag or 'DEFAULT'})", url)
        model.load_state_dict(load_state_dict_file(path))
    return _replace_head(model, request.num_outputs, name)


@register_model("classifier")
@register_model("detector")
def image_model(request: ModelRequest) -> nn.Module:
    """Any timm model by name, or ``torchvision/<name>``, with a fresh ``num_outputs``-way head."""
    if request.name.lower().startswith(TORCHVISION_PREFIX):
        return _torchvision_model(request)
    return _timm_model(request)
