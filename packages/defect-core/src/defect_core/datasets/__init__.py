"""Dataset readers: MVTec AD, VisA, KolektorSDD2 and a plain folder, and the built-in datasets, opened by kind.

>>> from defect_core.datasets import open_dataset
>>> reader = open_dataset("mvtec", "/data/mvtec_ad")  # doctest: +SKIP
>>> reader.defect_examples("bottle", "broken_large")  # doctest: +SKIP

:func:`open_dataset` opens every kind of :data:`DATASET_KINDS` (what every command accepts);
:func:`create_reader` creates one registered reader. Importing this package registers every reader below.
"""

from __future__ import annotations

from defect_core.datasets.base import DatasetReader, available_readers, create_reader, register_reader
from defect_core.datasets.folder import FolderReader
from defect_core.datasets.kinds import DATASET_KINDS, open_dataset, require_dataset_choice
from defect_core.datasets.ksdd2 import KSDD2Reader
from defect_core.datasets.mvtec import MVTecReader
from defect_core.datasets.validation import (
    find_pair_problems,
    pair_problems,
    raise_if_problems,
    validate_pairs,
)
from defect_core.datasets.visa import VisaReader, read_split_file

__all__ = [
    "DATASET_KINDS",
    "require_dataset_choice",
    "DatasetReader",
    "FolderReader",
    "KSDD2Reader",
    "MVTecReader",
    "VisaReader",
    "available_readers",
    "create_reader",
    "find_pair_problems",
    "open_dataset",
    "pair_problems",
    "raise_if_problems",
    "read_split_file",
    "register_reader",
    "validate_pairs",
]
