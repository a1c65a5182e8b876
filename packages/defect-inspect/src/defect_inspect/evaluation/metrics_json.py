"""The metrics JSON of a run, in defect-metrics' file format (``defect-metrics report`` reads it as is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_run_metrics(
    path: str | Path,
    metric: str,
    results: dict[str, Any],
    curves: dict[str, dict[str, list[float]]] | None = None,
    *,
    inputs: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``{"format", "metric", "results", "curves", ...}`` to ``path`` atomically; return the document."""
    from defect_inspect import __version__
    from defect_metrics import __version__ as metrics_version
    from defect_metrics import metrics_document, write_metrics

    document = metrics_document(metric, results, inputs=inputs, settings=settings, curves=curves)
    # the document's package_version is defect-metrics'; say which package wrote it and which computed it
    document.update(
        {
            "package": "defect-inspect",
            "package_version": __version__,
            "metrics_package_version": metrics_version,
        }
    )
    write_metrics(path, document)
    return document
