"""The classes of a multi-class segmenter (``--classes multi``): one table for a training set whose items
may carry different class tables, and the lookup that turns an item's label ids into the model's.

Every item has a class table (:mod:`defect_core.class_labels`): a labelled item (a Defect Spectrum image, a
Defect-Gen output) its own ``{id: name}``, a binary one ``{1: <its defect name>}`` and a defect-free one none.
The model's classes are ``background`` (output 0) followed by the merged defect classes, so its outputs are
``1 + number of classes``. Tables are **merged by class name**:

- when they agree (no id names two classes, no class has two ids), the classes keep their ids' order, so a
  dataset's own table (1 broken_large, 2 broken_small, 3 contamination) comes out as outputs 1, 2, 3 and the
  label images a model writes carry the dataset's ids (ids with gaps close up, in order);
- otherwise (binary sets of several defect types, tables of different objects) the classes are sorted by
  name, the order :func:`defect_core.class_labels.class_table_from_names` gives, and a log line says so.

A class named ``background`` is refused (:class:`ClassTableError`): it is output 0, never a defect class.
``class_names`` fixes the classes and their order instead (a run's recorded table, an experiment's rows);
then a training item with a class outside it is refused, naming the classes and a file that has them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from defect_core.class_labels import MAX_CLASS_ID
from defect_core.errors import DefectfillError
from defect_inspect.data.items import InspectionItem

logger = logging.getLogger(__name__)

BACKGROUND = "background"
UNKNOWN_ID = 65535
"""Lookup value of a label id that is not in its item's class table (:func:`label_lookup`)."""


class ClassTableError(DefectfillError, ValueError):
    """The class tables of a training set cannot become one set of model classes; the message says why."""


def _tables(items: Iterable[InspectionItem]) -> list[tuple[InspectionItem, dict[int, str]]]:
    return [(item, item.class_table) for item in items if item.is_defect]


def merge_class_tables(tables: Sequence[Mapping[int, str]]) -> list[str]:
    """The defect classes (names, in output order 1..N) of ``tables`` merged by name (module docstring)."""
    id_of: dict[str, int] = {}
    name_of: dict[int, str] = {}
    agree = True
    for table in tables:
        for k, name in table.items():
            if name == BACKGROUND:
                raise ClassTableError(
                    f"a defect class is named {BACKGROUND!r} (id {k}), the name of output 0: rename it"
                )
            if id_of.setdefault(name, k) != k or name_of.setdefault(k, name) != name:
                agree = False
    if agree:
        return [name_of[k] for k in sorted(name_of)]
    names = sorted(id_of)
    logger.info(
        "the training items' class tables disagree (%s): classes merged by name, in name order %s",
        "; ".join(sorted({", ".join(f"{k} {v}" for k, v in sorted(t.items())) for t in tables})),
        names,
    )
    return names


def model_classes(items: Iterable[InspectionItem], class_names: Sequence[str] = ()) -> list[str]:
    """``["background", *defect classes]`` of a training set: its tables merged, or ``class_names``.

    Raises :class:`ClassTableError` for a set without defect classes, for more than 255 classes, and (with
    ``class_names``) for items whose classes are not all in ``class_names``.
    """
    tables = _tables(items)
    if class_names:
        names = list(class_names)
        if BACKGROUND in names or len(set(names)) != len(names):
            raise ClassTableError(
                f"class_names {names} must be distinct defect classes, without {BACKGROUND!r} (output 0)"
            )
        missing: dict[str, InspectionItem] = {}
        for item, table in tables:
            for name in table.values():
                if name not in names:
                    missing.setdefault(name, item)
        if missing:
            shown = ", ".join(f"{n} (e.g. {item.labels or item.mask})" for n, item in sorted(missing.items()))
            raise ClassTableError(f"training classes not in class_names {names}: {shown}")
    else:
        names = merge_class_tables([table for _, table in tables])
    if not names:
        raise ClassTableError("the training set has no defect class: every item is defect-free")
    if len(names) > MAX_CLASS_ID:
        raise ClassTableError(f"{len(names)} defect classes: a label image holds at most {MAX_CLASS_ID}")
    return [BACKGROUND, *names]


def label_lookup(table: Mapping[int, str], classes: Sequence[str]) -> np.ndarray:
    """int64 (256,): the model class of every label id of an item with class table ``table``.

    ``classes[0]`` is the background (id 0 maps to it); an id whose name is not in ``classes`` raises
    :class:`ClassTableError`; an id outside ``table`` maps to :data:`UNKNOWN_ID`, for the caller to report
    with the file.
    """
    index = {name: k for k, name in enumerate(classes)}
    lookup = np.full(MAX_CLASS_ID + 1, UNKNOWN_ID, dtype=np.int64)
    lookup[0] = 0
    absent = sorted({name for name in table.values() if name not in index})
    if absent:
        raise ClassTableError(f"class(es) {absent} are not among the model's classes {list(classes)}")
    for k, name in table.items():
        lookup[int(k)] = index[name]
    return lookup
