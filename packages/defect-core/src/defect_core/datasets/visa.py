"""VisA (Zou et al., ECCV 2022) read through its official split file ``<root>/split_csv/1cls.csv``.

The split file has the columns ``object,split,label,image,mask``; ``split`` is "train" or "test", ``label``
is "normal" or "anomaly", ``image`` and ``mask`` are paths relative to the root, for example::

    candle,train,normal,candle/Data/Images/Normal/0836.JPG,
    candle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,candle/Data/Masks/Anomaly/000.png

In the one-class ("1cls") split every anomaly of an object is in one category; the reader calls it
``defect_name`` ("anomaly" unless the caller names it otherwise), since VisA's files carry no finer label.

VisA's raw masks store small label values (1, 2, ...) rather than 255 (the official preparation script
rewrites every non-zero value to 255), so this reader counts any non-zero pixel as defect
(``mask_threshold = 1``); code that loads these masks later must do the same.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from defect_core.datasets.base import DatasetReader, register_reader
from defect_core.datasets.validation import find_pair_problems, raise_if_problems
from defect_core.defect_example import DefectExample
from defect_core.errors import DatasetError, InputFileError

logger = logging.getLogger(__name__)

SPLIT_FILE = Path("split_csv") / "1cls.csv"
COLUMNS = ("object", "split", "label", "image", "mask")
LABELS = ("normal", "anomaly")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class VisaRow:
    """One line of the split file, paths made absolute."""

    line: int
    object_name: str
    split: str
    label: str
    image: Path
    mask: Path | None


def read_split_file(path: Path, root: Path) -> list[VisaRow]:
    """Parse a VisA split file; raise one :class:`DatasetError` listing every malformed line."""
    if not path.is_file():
        raise InputFileError(path, "VisA split file does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise InputFileError(path, f"missing column(s) {', '.join(missing)}; header is {header}")
            raw_rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(path, f"cannot be read as CSV ({exc.__class__.__name__}: {exc})") from exc

    rows: list[VisaRow] = []
    problems: list[InputFileError] = []
    for line, raw in raw_rows:
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        label, split = row["label"].lower(), row["split"].lower()
        bad = []
        if not row["object"]:
            bad.append("empty object")
        if split not in SPLITS:
            bad.append(f"split {row['split']!r} is not one of {', '.join(SPLITS)}")
        if label not in LABELS:
            bad.append(f"label {row['label']!r} is not one of {', '.join(LABELS)}")
        if not row["image"]:
            bad.append("empty image path")
        if bad:
            problems.append(InputFileError(path, f"line {line}: {'; '.join(bad)}"))
            continue
        mask = root / row["mask"] if row["mask"] else None
        rows.append(VisaRow(line, row["object"], split, label, root / row["image"], mask))
    if problems:
        raise DatasetError(root, problems)
    return rows


@register_reader("visa")
class VisaReader(DatasetReader):
    """Reader of VisA through ``split_csv/1cls.csv`` (or another file with the same columns)."""

    mask_threshold = 1
    # DefectFill (appendix B.2) learns each VisA object from its first 10 anomaly / mask pairs
    split_rule = "first-10"

    def __init__(
        self, root: str | Path, *, split_file: str | Path | None = None, defect_name: str = "anomaly"
    ) -> None:
        super().__init__(root)
        if not defect_name or not defect_name.strip():
            raise ValueError(f"defect_name must be a non-empty name, got {defect_name!r}")
        self.defect_name = defect_name
        self.split_file = Path(split_file) if split_file is not None else self.root / SPLIT_FILE
        self.rows = read_split_file(self.split_file, self.root)

    def object_names(self) -> list[str]:
        """Objects named in the split file, sorted."""
        return sorted({row.object_name for row in self.rows})

    def defect_names(self, object_name: str) -> list[str]:
        """``[defect_name]`` when the object has anomaly rows, else an empty list."""
        self.require_object(object_name)
        has_anomaly = any(r.object_name == object_name and r.label == "anomaly" for r in self.rows)
        return [self.defect_name] if has_anomaly else []

    def defect_examples(self, object_name: str, defect_name: str) -> list[DefectExample]:
        """Every anomaly row of the object (train and test split), sorted by image file name; validated."""
        self.require_defect(object_name, defect_name)
        rows = [r for r in self.rows if r.object_name == object_name and r.label == "anomaly"]
        rows.sort(key=lambda r: (r.image.name, str(r.image)))
        problems = [
            InputFileError(self.split_file, f"line {r.line}: anomaly image {r.image.name} has no mask")
            for r in rows
            if r.mask is None
        ]
        pairs = [(r.image, r.mask) for r in rows if r.mask is not None]
        problems += find_pair_problems(pairs, mask_threshold=self.mask_threshold)
        raise_if_problems(self.root, problems)
        return [
            DefectExample(image, mask, object_name, defect_name, mask_threshold=self.mask_threshold)
            for image, mask in pairs
        ]

    def normal_images(self, object_name: str, split: str = "train") -> list[Path]:
        """Images labelled "normal" in ``split`` for the object, sorted by file name."""
        self.require_split(split)
        self.require_object(object_name)
        images = [
            r.image
            for r in self.rows
            if r.object_name == object_name and r.label == "normal" and r.split == split
        ]
        return sorted(images, key=lambda p: (p.name, str(p)))
