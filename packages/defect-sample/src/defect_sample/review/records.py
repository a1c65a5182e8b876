"""What the review app records: one ``GenerationInfo`` per generation, one ``ReviewRecord`` per decision.

A ``ReviewRecord`` is one line of ``review.jsonl``; it carries its generation's whole ``GenerationInfo``, so
that every line says on its own what was decided about what (prompt or concept, region, seed, parent).
Paths are written relative to the output folder, as in ``manifest.jsonl``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from defect_core.configs import coerce_paths, require
from defect_core.sample_record import SELECTION_METRICS
from defect_core.serialization import JsonDataclass

ACCEPTED, REJECTED, FLAGGED = "accepted", "rejected", "flagged"
STATUSES = (ACCEPTED, REJECTED, FLAGGED)


def utc_now() -> str:
    """The time of a decision: ISO 8601, UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def candidate_id(generation: int, index: int) -> str:
    """``g00012-c3``: candidate 3 of generation 12."""
    return f"g{generation:05d}-c{index}"


@dataclass(frozen=True)
class GenerationInfo(JsonDataclass):
    """One press of Generate: ``candidates`` candidates of one normal image, region and prompt (or concept).

    ``parent`` is the generation this one was regenerated from (None for a fresh start); ``scores`` are
    the LFS scores of the candidates in order and ``lfs_index`` the one LFS would keep (shown, not imposed);
    ``size`` is the working size (width, height) the candidates were generated at.
    """

    generation: int
    source_image: Path
    mask_source: str
    defect_name: str
    base_model: str
    seed: int
    steps: int
    guidance: float
    candidates: int
    size: tuple[int, ...]
    concept: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    parent: int | None = None
    selection_metric: str = "none"
    scores: tuple[float, ...] = ()
    lfs_index: int = 0
    background_replacement: bool = True
    pixel_composite: bool = False
    created: str = ""

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "scores", tuple(float(s) for s in self.scores))
        require(self, self.generation >= 1, "generation", "must be >= 1")
        require(
            self,
            self.parent is None or 1 <= self.parent < self.generation,
            "parent",
            "must be an earlier generation",
        )
        require(
            self,
            (self.concept is None) != (self.prompt is None),
            "concept",
            "exactly one of concept and prompt must be set",
        )
        require(self, self.seed >= 0, "seed", "must be >= 0")
        require(self, self.steps >= 1, "steps", "must be >= 1")
        require(self, self.candidates >= 1, "candidates", "must be >= 1")
        require(self, len(self.size) == 2 and min(self.size) > 0, "size", "must be (width, height)")
        require(
            self,
            self.selection_metric in SELECTION_METRICS,
            "selection_metric",
            f"must be one of {SELECTION_METRICS}",
        )
        require(
            self,
            len(self.scores) in (0, self.candidates),
            "scores",
            "must hold one score per candidate (or none)",
        )
        require(self, all(not math.isnan(s) for s in self.scores), "scores", "must not be NaN")
        require(self, 0 <= self.lfs_index < self.candidates, "lfs_index", "must index one of the candidates")

    @property
    def description(self) -> str:
        """What was asked for: ``concept <id>`` or ``prompt "<text>"`` (the feedback panel's row key)."""
        return f"concept {self.concept}" if self.concept is not None else f'prompt "{self.prompt}"'


@dataclass(frozen=True)
class ReviewRecord(JsonDataclass):
    """One decision about one candidate: its status, the reason (required for a flag), when, and, for an
    accepted one, the ``item_id`` it was written under in ``defect/``, ``mask/`` and ``manifest.jsonl``."""

    candidate_id: str
    candidate_index: int
    status: str
    generation: GenerationInfo
    time: str
    reason: str = ""
    item_id: str | None = None

    def __post_init__(self) -> None:
        require(self, self.status in STATUSES, "status", f"must be one of {STATUSES}")
        require(
            self,
            0 <= self.candidate_index < self.generation.candidates,
            "candidate_index",
            "must index one of the generation's candidates",
        )
        require(
            self,
            self.candidate_id == candidate_id(self.generation.generation, self.candidate_index),
            "candidate_id",
            "must name the generation and the candidate index",
        )
        require(self, self.status != FLAGGED or bool(self.reason.strip()), "reason", "a flag needs a reason")
        require(
            self,
            (self.item_id is not None) == (self.status == ACCEPTED),
            "item_id",
            "is set exactly for an accepted candidate",
        )
        require(self, bool(self.time), "time", "must be set")
