"""``ConceptCard``: everything a concept file carries besides its LoRA tensors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defect_core.configs import require
from defect_core.serialization import JsonDataclass

CONCEPT_FORMAT_VERSION = 2
"""Version of the concept-file layout; bumped on any change that an older reader would misread.

2: ``BaseModelRef`` gained ``weights_fingerprint``, ``loaded`` and ``revision`` (a version-1 reader refuses
their keys, so it is told to upgrade instead). Version-1 cards still load: the new fields are absent there
and default to ``None``.
"""

_HEX_DIGEST = r"[0-9a-f]{16,64}"

PAPER_UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
PAPER_TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


@dataclass(frozen=True)
class BaseModelRef(JsonDataclass):
    """The inpainting model a concept was trained on (computed by defect-sample when it loads one).

    Its identity is ``fingerprint`` (a hash of the UNet and text-encoder configs: the architecture) plus
    ``weights_fingerprint`` (a hash of a fixed selection of those models' weights), never the id string: the
    same weights under another hub id (a mirror) or in a local folder are the same base model, and a
    fine-tune of the same architecture is not. ``id`` is what the user asked for, ``loaded`` what was
    actually loaded (a removed hub id's mirror, a folder's absolute path, ``builtin:<name>``) and
    ``revision`` the hub commit hash it was loaded at. Cards of format 1 carry only ``id`` and ``fingerprint``.
    """

    id: str
    fingerprint: str
    weights_fingerprint: str | None = None
    loaded: str | None = None
    revision: str | None = None

    def __post_init__(self) -> None:
        require(self, bool(self.id), "id", "must name a hub id, a folder or builtin:<name>")
        require(
            self,
            bool(re.fullmatch(_HEX_DIGEST, self.fingerprint)),
            "fingerprint",
            "must be a lowercase hex digest",
        )
        require(
            self,
            self.weights_fingerprint is None or bool(re.fullmatch(_HEX_DIGEST, self.weights_fingerprint)),
            "weights_fingerprint",
            "must be a lowercase hex digest or null",
        )
        require(self, self.loaded is None or bool(self.loaded), "loaded", "must be non-empty or null")
        require(
            self,
            self.revision is None or (bool(self.revision) and not any(c.isspace() for c in self.revision)),
            "revision",
            "must be a commit hash (one word) or null",
        )

    @property
    def source(self) -> str:
        """What to load to get this model again: ``loaded`` when recorded, else ``id``."""
        return self.loaded or self.id


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
        require(self, bool(self.object_name.strip()), "object_name", "must be non-empty")
        require(self, bool(self.defect_name.strip()), "defect_name", "must be non-empty")
        require(self, isinstance(self.base_model, BaseModelRef), "base_model", "must be a BaseModelRef")
        require(
            self,
            bool(self.token) and not any(c.isspace() for c in self.token),
            "token",
            "must be one word without spaces",
        )
        require(
            self,
            isinstance(self.format_version, int) and self.format_version >= 1,
            "format_version",
            "must be an integer >= 1",
        )
        require(self, self.lora_rank >= 1, "lora_rank", "must be >= 1")
        require(self, self.lora_alpha > 0, "lora_alpha", "must be > 0")
        require(self, 0.0 <= self.lora_dropout < 1.0, "lora_dropout", "must be in [0, 1)")
        require(
            self,
            self.resolution >= 8 and self.resolution % 8 == 0,
            "resolution",
            "must be a positive multiple of 8",
        )
        object.__setattr__(self, "unet_targets", tuple(self.unet_targets))
        object.__setattr__(self, "text_encoder_targets", tuple(self.text_encoder_targets))
        require(self, len(self.unet_targets) > 0, "unet_targets", "must not be empty")

    @property
    def concept_id(self) -> str:
        """A readable id, ``<object>/<defect>``, used in manifests and reports."""
        return f"{self.object_name}/{self.defect_name}"
