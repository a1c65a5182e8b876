"""A class table in a JSON file (``classes.json``): how a dataset folder pins its class ids.

Two spellings are read, so that a table can be written either way or copied from Defect Spectrum's
``DS-*.md`` files:

- ids to names, as :class:`~defect_core.defect_example.DefectExample` writes ``classes``:
  ``{"1": "scratch", "2": "dent"}``;
- names to ids, as Defect Spectrum publishes its tables: ``{"scratch": 1, "dent": 2}``.

Ids are 1..255 (0 is the background and is never listed), names are distinct
(:func:`~defect_core.class_labels.validate_class_table`).
"""

from __future__ import annotations

import json
from pathlib import Path

from defect_core.class_labels import validate_class_table
from defect_core.errors import InputFileError

CLASSES_FILE = "classes.json"


def read_classes_file(path: str | Path) -> dict[int, str]:
    """The class table ``{id: name}`` of a ``classes.json`` file (either spelling above), sorted by id.

    Raises :class:`InputFileError` naming the file when it cannot be read, is not a JSON object, mixes the
    two spellings, or breaks a rule of class tables.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"cannot be read as JSON ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(data, dict) or not data:
        raise InputFileError(path, 'must be a non-empty JSON object such as {"1": "scratch"}')
    ids_to_names = all(isinstance(k, str) and k.strip().isdigit() for k in data) and all(
        isinstance(v, str) for v in data.values()
    )
    names_to_ids = all(isinstance(v, int) and not isinstance(v, bool) for v in data.values())
    if ids_to_names:
        table = {int(k): v for k, v in data.items()}
    elif names_to_ids:
        ids = list(data.values())
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise InputFileError(path, f"class id(s) {repeated} given to several names")
        table = {v: k for k, v in data.items()}
    else:
        raise InputFileError(
            path,
            'needs ids to names ({"1": "scratch", ...}) or names to ids ({"scratch": 1, ...}), not a mix',
        )
    try:
        return validate_class_table(table, "classes")
    except ValueError as exc:
        raise InputFileError(path, str(exc)) from None
