"""Dataset readers: MVTec AD, VisA, KolektorSDD2 and a plain folder, created by name.

>>> from defect_core.datasets import create_reader
>>> reader = create_reader("mvtec", "/data/mvtec_ad")  # doctest: +SKIP
>>> reader.defect_examples("bottle", "broken_large")  # doctest: +SKIP

Importing this package registers every reader below with :func:`create_reader`.
"""

from __future__ import annotations

from defect_core.datasets.base import DatasetReader, available_readers, create_reader, register_reader
from defect_core.datasets.folder import FolderReader
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
    "DatasetReader",
    "FolderReader",
    "KSDD2Reader",
    "MVTecReader",
    "VisaReader",
    "available_readers",
    "create_reader",
    "find_pair_problems",
    "pair_problems",
    "raise_if_problems",
    "read_split_file",
    "register_reader",
    "validate_pairs",
]
