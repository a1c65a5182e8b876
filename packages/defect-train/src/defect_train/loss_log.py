"""The per-step loss log of a training run: ``loss.csv`` (rewritten atomically) and its plot ``loss.png``.

Used by the concept trainer and by both stages of the base-model recipe. The whole file is rewritten
(never appended in place), so a crash mid-write leaves the previous complete file; a resumed run starts
from the rows of the existing file up to its checkpoint's step, so the file continues without duplicated
or missing rows as long as the log is written whenever a checkpoint is (both callers do).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from defect_core.atomic import write_text_atomic
from defect_core.errors import InputFileError
from defect_core.plotting import line_plot

logger = logging.getLogger(__name__)

LOSS_CSV, LOSS_PNG = "loss.csv", "loss.png"


class LossLog:
    """Rows ``{"step": k, column: value, ...}`` of a run, written to ``<run_dir>/loss.csv`` and plotted.

    ``columns`` are the value columns after ``step`` (floats, written with ``repr`` so they read back
    bitwise); ``plotted`` are the ones drawn in ``loss.png`` (a log-scale y axis when all are positive).
    ``resume_step``: rows of an existing ``loss.csv`` up to this step are kept (0: a fresh log).
    """

    def __init__(
        self, run_dir: Path, columns: Sequence[str], plotted: Sequence[str], title: str, resume_step: int = 0
    ) -> None:
        unknown = [c for c in plotted if c not in columns]
        if unknown:
            raise ValueError(f"plotted columns {unknown} are not among the columns {list(columns)}")
        self.csv_path = Path(run_dir) / LOSS_CSV
        self.png_path = Path(run_dir) / LOSS_PNG
        self.columns = ("step", *columns)
        self.plotted = tuple(plotted)
        self.title = title
        self.rows: list[dict[str, float]] = self._read(resume_step) if resume_step > 0 else []

    def _read(self, upto: int) -> list[dict[str, float]]:
        if not self.csv_path.is_file():
            return []
        with open(self.csv_path, newline="") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != self.columns:
                logger.warning(
                    "%s has columns %s, not %s: starting a new loss log",
                    self.csv_path,
                    reader.fieldnames,
                    list(self.columns),
                )
                return []
            try:
                rows = [{k: float(v) for k, v in row.items()} for row in reader]
            except (TypeError, ValueError) as exc:
                raise InputFileError(
                    self.csv_path, f"unreadable loss log ({exc}); move it away to resume"
                ) from exc
        return [r for r in rows if r["step"] <= upto]

    def append(self, step: int, values: Mapping[str, float]) -> dict[str, float]:
        """Add the row of ``step``; ``values`` must name exactly the value columns. Returns the row."""
        if set(values) != set(self.columns[1:]):
            raise ValueError(f"loss row has {sorted(values)}, the log's columns are {list(self.columns[1:])}")
        row = {"step": step, **{c: float(values[c]) for c in self.columns[1:]}}
        self.rows.append(row)
        return row

    @property
    def last(self) -> dict[str, float]:
        """The newest row, or ``{}`` before the first step."""
        return self.rows[-1] if self.rows else {}

    def write(self, plot: bool = True) -> None:
        """Rewrite ``loss.csv`` atomically and, with ``plot`` and at least one row, ``loss.png``."""
        lines = [",".join(self.columns)] + [
            ",".join(str(int(r[c])) if c == "step" else repr(r[c]) for c in self.columns) for r in self.rows
        ]
        write_text_atomic(self.csv_path, "\n".join(lines) + "\n")
        if plot and self.rows and any(math.isfinite(r[c]) for r in self.rows for c in self.plotted):
            steps = [r["step"] for r in self.rows]
            line_plot(
                {c: (steps, [r[c] for r in self.rows]) for c in self.plotted},
                self.png_path,
                title=self.title,
                xlabel="step",
                ylabel="loss",
                log_y=all(r[c] > 0 for r in self.rows for c in self.plotted),
            )
