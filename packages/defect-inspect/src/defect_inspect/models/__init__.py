"""Inspection networks: a registry (``register_model`` / ``create_model``) of timm / torchvision
classifiers and detectors and smp segmenters, ImageNet weights from the caches, and the losses."""

from defect_core.errors import MissingWeightsError
from defect_inspect.models.registry import (
    MODEL_KINDS,
    ModelRequest,
    available_models,
    create_model,
    register_model,
)

__all__ = [
    "MODEL_KINDS",
    "MissingWeightsError",
    "ModelRequest",
    "available_models",
    "create_model",
    "register_model",
]
