"""One category table for an export whose items may carry different class tables, and the id maps into it.

Rule: when the items' tables agree (no id with two names, no name with two ids), their union is the table and
every id keeps its number, so ``labels/`` ids, COCO category ids and YOLO indices (id - 1) tell the same
story. When they disagree, e.g. binary items of different defects (each ``{1: its defect}``), the table is
the distinct names in sorted order, ids 1..n (:func:`~defect_core.class_labels.class_table_from_names`),
and every item's ids are renumbered by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from defect_core.class_labels import MAX_CLASS_ID, class_table_from_names, validate_class_table


def merged_class_table(tables: Sequence[Mapping[int, str]]) -> dict[int, str]:
    """The export's category table ``{id: name}`` (ids 1..255) for the items' ``tables`` (see the module)."""
    union: dict[int, str] = {}
    ids_of: dict[str, int] = {}
    agree = True
    for table in tables:
        for k, name in validate_class_table(table).items():
            same_name = union.setdefault(k, name) == name
            same_id = ids_of.setdefault(name, k) == k  # both recorded: every name must reach the table
            agree = agree and same_name and same_id
    if agree:
        return dict(sorted(union.items()))
    return class_table_from_names(sorted(ids_of))


def id_lookup(item_table: Mapping[int, str], export_table: Mapping[int, str]) -> np.ndarray:
    """uint8 (256,) mapping an item's ids to the export's (``lookup[labels]``); background stays 0.

    Ids missing from ``item_table`` map to 0 here: callers reject them first (they are bad input).
    """
    export_ids = {name: k for k, name in export_table.items()}
    lookup = np.zeros(MAX_CLASS_ID + 1, dtype=np.uint8)
    for k, name in item_table.items():
        if name not in export_ids:
            raise ValueError(f"class {name!r} is not in the export's table {dict(export_table)}")
        lookup[int(k)] = export_ids[name]
    return lookup
