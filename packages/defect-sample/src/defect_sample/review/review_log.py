"""``review.jsonl``: every decision of the review app, appended one line at a time, never rewritten.

A line is appended with one ``write`` and fsynced (``defect_core.manifest.append_record``, the manifest's
own append: a torn line left by a crash is ended before the next one). Reading keeps the intact lines and
drops a torn one with a warning; the latest decision about a candidate is its status.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from defect_core.manifest import append_record
from defect_sample.review.records import ReviewRecord

logger = logging.getLogger(__name__)

REVIEW_LOG_NAME = "review.jsonl"


class ReviewLog:
    """The decision log of one output folder."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir).resolve() / REVIEW_LOG_NAME

    def append(self, record: ReviewRecord) -> None:
        """Append one decision (paths relative to the output folder), fsynced before returning."""
        append_record(self.path, record)  # any JsonDataclass: the line format is the manifest's

    def records(self) -> list[ReviewRecord]:
        """Every intact decision in file order (paths absolute); [] when nothing was decided yet."""
        if not self.path.exists():
            return []
        records = []
        lines = self.path.read_bytes().split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if raw.strip():
                try:
                    records.append(ReviewRecord.from_dict(json.loads(raw), base=self.path.parent))
                except (UnicodeDecodeError, ValueError, TypeError) as exc:
                    logger.warning("%s:%d: dropping an unreadable decision (%s)", self.path, number, exc)
        return records

    def latest(self) -> dict[str, ReviewRecord]:
        """Candidate id → its latest decision."""
        return {r.candidate_id: r for r in self.records()}
