"""Dataset readers: MVTec AD, VisA, KolektorSDD2, Defect Spectrum and a plain folder (masks or labelme), and the
built-in datasets, opened by kind.

>>> from defect_core.datasets import open_dataset
>>> reader = open_dataset("mvtec", "/data/mvtec_ad")  # doctest: +SKIP
>>> reader.defect_examples("bottle", "broken_large")  # doctest: +SKIP

:func:`open_dataset` opens every kind of :data:`DATASET_KINDS` (what every command accepts);
:func:`create_reader` creates one registered reader. Importing this package registers every reader below.
"""

from __future__ import annotations

from defect_core.datasets.base import DatasetReader, available_readers, create_reader, register_reader
from defect_core.datasets.captions import read_captions
from defect_core.datasets.classes_file import read_classes_file
from defect_core.datasets.defect_spectrum import DefectSpectrumReader
from defect_core.datasets.defect_spectrum_classes import DS_MVTEC_CLASSES
from defect_core.datasets.folder import FolderReader
from defect_core.datasets.kinds import (
    DATASET_KINDS,
    NORMALS_ROOT_KINDS,
    has_official_test_split,
    open_dataset,
    require_dataset_choice,
    require_test_split,
)
from defect_core.datasets.ksdd2 import KSDD2Reader
from defect_core.datasets.labelme import read_labelme
from defect_core.datasets.mvtec import MVTecReader
from defect_core.datasets.validation import (
    find_pair_problems,
    label_pair_problems,
    pair_problems,
    raise_if_problems,
    validate_pairs,
)
from defect_core.datasets.visa import VisaReader, read_split_file

__all__ = [
    "DATASET_KINDS",
    "DS_MVTEC_CLASSES",
    "NORMALS_ROOT_KINDS",
    "require_dataset_choice",
    "DatasetReader",
    "DefectSpectrumReader",
    "FolderReader",
    "KSDD2Reader",
    "MVTecReader",
    "VisaReader",
    "available_readers",
    "create_reader",
    "find_pair_problems",
    "has_official_test_split",
    "label_pair_problems",
    "open_dataset",
    "pair_problems",
    "raise_if_problems",
    "read_captions",
    "read_classes_file",
    "read_labelme",
    "read_split_file",
    "register_reader",
    "require_test_split",
    "validate_pairs",
]
