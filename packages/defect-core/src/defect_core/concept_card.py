"""``ConceptCard``: everything a concept file carries besides its LoRA tensors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defect_core.serialization import JsonDataclass, require

CONCEPT_FORMAT_VERSION = 1
"""Version of the concept-file layout; bumped on any change that an older reader would misread."""

PAPER_UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
PAPER_TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


@dataclass(frozen=True)
class BaseModelRef(JsonDataclass):
    """The inpainting model a concept was trained on.

    ``fingerprint`` is a hash of the UNet and text-encoder configs (computed by defect-sample), so that a
    concept applied to a model with another architecture is caught even when the id differs or is a path.
    """

    id: str
    fingerprint: str

    def __post_init__(self) -> None:
        require(bool(self.id), "BaseModelRef", "id", self.id, "must name a hub id, a folder or builtin:<name>")
        require(bool(re.fullmatch(r"[0-9a-f]{16,64}", self.fingerprint)), "BaseModelRef", "fingerprint",
                self.fingerprint, "must be a lowercase hex digest")


@dataclass(frozen=True)
class ConceptCard(JsonDataclass):
    """Metadata of a learned defect concept (stored as JSON in the safetensors header)."""

    object_name: str
    defect_name: str
    base_model: BaseModelRef
    token: str = "sks"
    format_version: int = CONCEPT_FORMAT_VERSION
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.1
    unet_targets: tuple[str, ...] = PAPER_UNET_TARGETS
    text_encoder_targets: tuple[str, ...] = PAPER_TEXT_ENCODER_TARGETS
    resolution: int = 512
    training_config: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    package_version: str = "0.0.0"
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        name = "ConceptCard"
        require(bool(self.object_name.strip()), name, "object_name", self.object_name, "must be non-empty")
        require(bool(self.defect_name.strip()), name, "defect_name", self.defect_name, "must be non-empty")
        require(isinstance(self.base_model, BaseModelRef), name, "base_model", self.base_model,
                "must be a BaseModelRef")
        require(bool(self.token) and not any(c.isspace() for c in self.token), name, "token", self.token,
                "must be one word without spaces")
        require(isinstance(self.format_version, int) and self.format_version >= 1, name, "format_version",
                self.format_version, "must be an integer >= 1")
        require(self.lora_rank >= 1, name, "lora_rank", self.lora_rank, "must be >= 1")
        require(self.lora_alpha > 0, name, "lora_alpha", self.lora_alpha, "must be > 0")
        require(0.0 <= self.lora_dropout < 1.0, name, "lora_dropout", self.lora_dropout, "must be in [0, 1)")
        require(self.resolution >= 8 and self.resolution % 8 == 0, name, "resolution", self.resolution,
                "must be a positive multiple of 8")
        object.__setattr__(self, "unet_targets", tuple(self.unet_targets))
        object.__setattr__(self, "text_encoder_targets", tuple(self.text_encoder_targets))
        require(len(self.unet_targets) > 0, name, "unet_targets", self.unet_targets, "must not be empty")

    @property
    def concept_id(self) -> str:
        """A readable id, ``<object>/<defect>``, used in manifests and reports."""
        return f"{self.object_name}/{self.defect_name}"
