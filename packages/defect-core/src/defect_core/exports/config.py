"""``ExportConfig``: every setting of ``defect-sample export`` (the CLI's flags are generated from it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defect_core.builtin.datasets import is_builtin_dataset
from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import DATASET_KINDS

EXPORT_FORMAT_NAMES = ("coco", "yolo-seg", "anomalib")


@dataclass(frozen=True)
class ExportConfig:
    """What to export (a generation output folder, or a dataset through its reader), in which format, where."""

    format: Literal["coco", "yolo-seg", "anomalib"] = config_field(
        "coco",
        "coco: images/ + annotations.json (one polygon per region); yolo-seg: images/ + labels/*.txt + "
        "data.yaml; anomalib: good/ + defect/ + mask/<stem>_mask.png (anomalib's Folder)",
    )
    source: Path | None = config_field(
        None, "generation output folder (with manifest.jsonl), or the dataset folder with --dataset"
    )
    out: Path | None = config_field(None, "export folder (written whole or not at all)")
    dataset: str | None = config_field(
        None,
        f"read SOURCE as a dataset of this kind ({', '.join(DATASET_KINDS)}) instead of a generation output",
    )
    object_name: str | None = config_field(
        None, "object of the dataset (with --dataset; may be left out when the dataset has one)"
    )
    defects: tuple[str, ...] = config_field((), "defect categories of the dataset to export (default: all)")
    normals_root: Path | None = config_field(
        None, "folder of the defect-free images of a dataset that ships none (defect-spectrum: MVTec AD)"
    )
    normals: bool = config_field(
        True,
        "anomalib: copy the defect-free images into good/ (the records' source images, or the dataset's "
        "train/good); --no-normals when they are not at hand",
    )
    overwrite: bool = config_field(False, "replace an existing, non-empty output folder")

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "defects", tuple(self.defects))
        require(
            self,
            self.format in EXPORT_FORMAT_NAMES,
            "format",
            f"must be one of {', '.join(EXPORT_FORMAT_NAMES)}",
        )
        require(self, self.out is not None, "out", "is required (--out DIR)")
        if self.dataset is None:
            require(self, self.source is not None, "source", "is required: a generation output folder")
            for name in ("object_name", "normals_root"):
                require(self, getattr(self, name) is None, name, "is for a dataset source (--dataset)")
            require(self, not self.defects, "defects", "is for a dataset source (--dataset)")
        else:
            require(
                self, self.dataset in DATASET_KINDS, "dataset", f"must be one of {', '.join(DATASET_KINDS)}"
            )
            require(
                self,
                is_builtin_dataset(self.dataset) or self.source is not None,
                "source",
                f"dataset {self.dataset!r} needs its folder (SOURCE)",
            )
        require(self, all(d and d.strip() for d in self.defects), "defects", "must be non-empty names")
