"""The model registry: ``@register_model(kind, name)`` and the ``create_model`` factory (timm's pattern).

Kinds: ``classifier`` (defect type), ``segmenter`` (defect mask), ``detector`` (good vs. defect). A builder
registered with ``name=None`` serves every name of its kind that has no builder of its own (timm's whole
model zoo for classifiers and detectors). Builders return an ``nn.Module``:
classifier ``(B, 3, H, W) → (B, C)`` logits, detector ``→ (B, 1)`` logits, segmenter ``→ (B, C, H, W)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import nn

logger = logging.getLogger(__name__)

ModelKind = Literal["classifier", "segmenter", "detector"]
MODEL_KINDS: tuple[str, ...] = ("classifier", "segmenter", "detector")


@dataclass(frozen=True)
class ModelRequest:
    """What a builder gets: the model name, its number of outputs, and where its weights come from.

    ``encoder`` names a segmenter's backbone (ignored by other kinds); ``weights`` is an explicit ImageNet
    weights file that replaces the cache lookup (only with ``pretrained``).
    """

    kind: str
    name: str
    num_outputs: int
    pretrained: bool
    encoder: str | None = None
    weights: Path | None = None


Builder = Callable[[ModelRequest], nn.Module]
_BUILDERS: dict[tuple[str, str | None], Builder] = {}


def register_model(kind: str, name: str | None = None) -> Callable[[Builder], Builder]:
    """Register ``builder(request) -> nn.Module`` for ``kind`` / ``name`` (``None``: any unregistered name)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")

    def decorate(builder: Builder) -> Builder:
        key = (kind, name.lower() if name else None)
        existing = _BUILDERS.get(key)
        if existing is not None and existing is not builder:
            raise ValueError(f"model {kind}/{name} is already registered by {existing.__qualname__}")
        _BUILDERS[key] = builder
        return builder

    return decorate


def available_models(kind: str) -> list[str]:
    """Names registered for ``kind``, sorted (``"*"`` marks a builder that accepts any other name)."""
    _load_builders()
    return sorted(name if name else "*" for k, name in _BUILDERS if k == kind)


def _load_builders() -> None:
    # importing the modules registers their builders; they import timm / smp, so only on first use
    from defect_inspect.models import classifiers, segmenters  # noqa: F401


def create_model(
    kind: str,
    name: str,
    pretrained: bool,
    *,
    num_outputs: int,
    encoder: str | None = None,
    weights: str | Path | None = None,
) -> nn.Module:
    """Build model ``name`` of ``kind`` with ``num_outputs`` outputs (classes, or 1 for a binary output).

    ``pretrained`` loads ImageNet weights into the backbone (from the caches, see
    :mod:`defect_inspect.models.pretrained`); the new head is always random. Unknown names raise
    ``ValueError`` listing what is available.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
    if num_outputs < 1:
        raise ValueError(f"num_outputs must be >= 1, got {num_outputs}")
    if weights is not None and not pretrained:
        raise ValueError("weights were given but pretrained is off: drop --no-pretrained or --weights")
    _load_builders()
    builder = _BUILDERS.get((kind, name.lower())) or _BUILDERS.get((kind, None))
    if builder is None:
        raise ValueError(f"unknown {kind} {name!r}; available: {', '.join(available_models(kind))}")
    request = ModelRequest(kind, name, num_outputs, pretrained, encoder, Path(weights) if weights else None)
    logger.info("building %s %s (%d outputs, pretrained=%s)", kind, name, num_outputs, pretrained)
    return builder(request)
