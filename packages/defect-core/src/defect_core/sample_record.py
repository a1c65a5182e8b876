"""``SampleRecord``: one line of ``manifest.jsonl`` per generated image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defect_core.class_labels import validate_class_table
from defect_core.configs import coerce_paths, require
from defect_core.serialization import JsonDataclass

SELECTION_METRICS = ("lpips", "psnr", "ssim", "none")


@dataclass(frozen=True)
class SampleRecord(JsonDataclass):
    """Where one generated image came from and how it was chosen.

    ``scores`` holds every candidate's selection score in candidate order; ``candidate_index`` is the kept
    one. Exactly one of ``concept`` (a concept id, ``<object>/<defect>``) and ``prompt`` (zero-shot) is set;
    a generator that makes images from noise with their labels (Defect-Gen) records its id as ``concept``.
    Items with defect classes carry their class-index label image in ``labels`` and its table in ``classes``
    (:mod:`defect_core.class_labels`); ``mask`` is then their union (``labels > 0``).
    """

    item_id: str
    image: Path
    mask: Path
    source_image: Path
    mask_source: str
    defect_name: str
    seed: int
    base_model: str
    concept: str | None = None
    prompt: str | None = None
    candidate_index: int = 0
    selection_metric: str = "lpips"
    scores: tuple[float, ...] = ()
    candidates: tuple[Path, ...] = ()
    sampler: dict[str, Any] = field(default_factory=dict, hash=False)
    package_version: str = "0.0.0"
    labels: Path | None = None
    classes: dict[int, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "scores", tuple(float(s) for s in self.scores))
        require(self, bool(self.item_id), "item_id", "must be non-empty")
        require(
            self,
            (self.concept is None) != (self.prompt is None),
            "concept",
            "exactly one of concept and prompt must be set",
        )
        require(self, self.seed >= 0, "seed", "must be >= 0")
        require(
            self,
            self.selection_metric in SELECTION_METRICS,
            "selection_metric",
            f"must be one of {SELECTION_METRICS}",
        )
        n = max(len(self.scores), 1)
        require(
            self, 0 <= self.candidate_index < n, "candidate_index", f"must index one of the {n} candidate(s)"
        )
        require(self, all(not math.isnan(s) for s in self.scores), "scores", "must not be NaN")
        try:
            object.__setattr__(self, "classes", validate_class_table(self.classes, "classes"))
        except ValueError as exc:
            raise ValueError(f"SampleRecord.{exc}") from None
        require(self, self.labels is None or bool(self.classes), "classes", "must name the classes of labels")
