"""Comparison report of one or more metrics JSON files: a Markdown table per metric kind and curve plots.

``build_report(["a.json", "b.json"], "report/")`` writes ``report/report.md`` (one table per metric kind,
one row per file, one column per numeric result, then per numeric setting) and one PNG per curve kind found (ROC, PR, PRO; one line
per file), drawn with :func:`defect_core.plotting.line_plot`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defect_core.atomic import write_text_atomic
from defect_core.plotting import line_plot
from defect_metrics.metrics_file import format_value, read_metrics, scalar_results

logger = logging.getLogger(__name__)

#: curve name -> (title, x label, y label)
CURVE_LABELS: dict[str, tuple[str, str, str]] = {
    "pixel_roc": ("Pixel ROC", "false positive rate", "true positive rate"),
    "pixel_pr": ("Pixel precision-recall", "recall", "precision"),
    "pro": ("Per-region overlap (PRO)", "false positive rate", "per-region overlap"),
    "image_roc": ("Image ROC", "false positive rate", "true positive rate"),
    "image_pr": ("Image precision-recall", "recall", "precision"),
}


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote."""

    markdown: Path
    plots: list[Path]


def run_names(paths: Sequence[Path]) -> list[str]:
    """A short distinct name per file: its stem, or parent/stem where stems repeat."""
    stems = [p.stem for p in paths]
    names = [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    if len(set(names)) != len(names):
        names = [str(p) for p in paths]
    return names


def _table(names: list[str], documents: list[dict[str, Any]]) -> list[str]:
    # Numeric settings (smoothing, FPR limit, subset size...) are columns too: they tell runs apart.
    rows = []
    for document in documents:
        row = scalar_results(document["results"])
        row.update({k: v for k, v in scalar_results(document.get("settings", {})).items() if k not in row})
        rows.append(row)
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| run | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, row in zip(names, rows, strict=True):
        cells = [format_value(row[c]) if c in row else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def build_report(
    paths: Sequence[str | Path], out_dir: str | Path, *, names: Sequence[str] | None = None
) -> ReportFiles:
    """Write ``report.md`` and curve PNGs comparing the metrics files at ``paths`` into ``out_dir``."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no metrics files given")
    if names is not None and len(names) != len(paths):
        raise ValueError(f"{len(names)} names for {len(paths)} files")
    labels = list(names) if names is not None else run_names(paths)
    documents = [read_metrics(p) for p in paths]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    lines = ["# Metrics report", "", "| run | file | metric |", "|---|---|---|"]
    lines += [f"| {n} | `{p}` | {d['metric']} |" for n, p, d in zip(labels, paths, documents, strict=True)]
    kinds = list(dict.fromkeys(d["metric"] for d in documents))
    for kind in kinds:
        members = [i for i, d in enumerate(documents) if d["metric"] == kind]
        lines += ["", f"## {kind}", ""]
        lines += _table([labels[i] for i in members], [documents[i] for i in members])

    plots: list[Path] = []
    curve_names = list(dict.fromkeys(name for d in documents for name in d.get("curves", {})))
    if curve_names:
        lines += ["", "## Curves", ""]
    for curve in curve_names:
        series = {
            label: (d["curves"][curve]["x"], d["curves"][curve]["y"])
            for label, d in zip(labels, documents, strict=True)
            if curve in d.get("curves", {})
        }
        title, xlabel, ylabel = CURVE_LABELS.get(curve, (curve, "x", "y"))
        plot = line_plot(series, out_dir / f"{curve}.png", title=title, xlabel=xlabel, ylabel=ylabel)
        plots.append(plot)
        lines += [f"### {title}", "", f"![{title}]({plot.name})", ""]
    markdown = write_text_atomic(out_dir / "report.md", "\n".join(lines).rstrip() + "\n")
    logger.info("report written to %s (%d plots)", markdown, len(plots))
    return ReportFiles(markdown=markdown, plots=plots)
