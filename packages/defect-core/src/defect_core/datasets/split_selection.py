"""Which real defect pairs of a dataset a command reads: one side of the DefectFill split, or the dataset's
official test split.

- ``train`` / ``held_out`` / ``all``: the reader's defect examples, split per category by file name under the
  split rule (:mod:`defect_core.datasets.splits`; DefectFill's protocol). On KSDD2 these are the defects of
  the official ``train/`` folder: ``train`` is its first third, ``all`` every one of its 246 defects.
- ``test``: the official test split of a dataset that ships one (KSDD2's ``test/`` folder, DIAG's protocol),
  :meth:`~defect_core.datasets.base.DatasetReader.official_test_examples`.
"""

from __future__ import annotations

from typing import Literal

from defect_core.datasets.base import DatasetReader
from defect_core.datasets.splits import SPLIT_NAMES, resolve_split_rule, select_split
from defect_core.defect_example import DefectExample

RealSplit = Literal["train", "held_out", "all", "test"]
REAL_SPLITS: tuple[str, ...] = (*SPLIT_NAMES, "test")


def select_real_examples(
    reader: DatasetReader, object_name: str, defect_name: str, which: str, split_rule: str = "auto"
) -> list[DefectExample]:
    """The defect pairs of one category in split ``which`` (one of :data:`REAL_SPLITS`), sorted by file name.

    ``split_rule`` (``"auto"``: the reader's DefectFill rule) decides ``train`` / ``held_out``; ``test``
    ignores it. A ``test`` split of a dataset without an official one raises ``ValueError`` saying so.
    """
    if which not in REAL_SPLITS:
        raise ValueError(f"split must be one of {', '.join(REAL_SPLITS)}; got {which!r}")
    if which == "test":
        return reader.official_test_examples(object_name, defect_name)
    rule = resolve_split_rule(split_rule, reader.split_rule)
    return select_split(reader.defect_examples(object_name, defect_name), which, rule)  # type: ignore[arg-type]
