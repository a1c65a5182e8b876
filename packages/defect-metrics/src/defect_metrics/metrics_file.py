"""The metrics JSON file every subcommand writes and the report reads, and its readable table.

Layout: ``{"format": 1, "metric": <kind>, "package_version": ..., "created": <UTC ISO time>,
"inputs": {...}, "settings": {...}, "results": {...}, "curves": {<name>: {"x": [...], "y": [...]}}}``.
``results`` holds numbers (or ``null`` where the data cannot define a metric) and, for some kinds, nested
tables (per-class values, confusion matrices).
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from defect_core.atomic import write_text_atomic
from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become ``null`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def metrics_document(
    metric: str,
    results: dict[str, Any],
    *,
    inputs: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    curves: dict[str, dict[str, list[float]]] | None = None,
) -> dict[str, Any]:
    """The JSON document for one run of one metric kind."""
    from defect_metrics import __version__

    return _jsonable(
        {
            "format": FORMAT_VERSION,
            "metric": metric,
            "package_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": inputs or {},
            "settings": settings or {},
            "results": results,
            "curves": curves or {},
        }
    )


def write_metrics(path: str | Path, document: dict[str, Any]) -> Path:
    """Write ``document`` as indented JSON, atomically."""
    return write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Read and check a metrics JSON file; raises :class:`InputFileError` naming it if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"is not valid JSON ({exc})") from exc
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("results"), dict)
        or "metric" not in document
    ):
        raise InputFileError(path, "is not a defect-metrics JSON file (needs 'metric' and 'results')")
    if document.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise InputFileError(
            path, f"has format {document['format']}, newer than this version reads ({FORMAT_VERSION})"
        )
    return document


def scalar_results(results: dict[str, Any], prefix: str = "") -> dict[str, float | int | None]:
    """The numeric leaves of ``results`` (nested keys joined by '.'), skipping lists such as matrices."""
    flat: dict[str, float | int | None] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(scalar_results(value, f"{name}."))
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            flat[name] = value
    return flat


def format_value(value: float | int | None) -> str:
    """Numbers as a person reads them in a table: integers as is, floats with 4 significant decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.4e}"
    return f"{value:.4f}"


def format_table(document: dict[str, Any]) -> str:
    """A two-column plain-text table of the numeric results of one document."""
    rows = scalar_results(document["results"])
    width = max((len(k) for k in rows), default=6)
    lines = [f"{document['metric']}", f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
    lines += [f"{key:<{width}}  {format_value(value)}" for key, value in rows.items()]
    return "\n".join(lines)
