"""``evaluate(config)``: a trained model on a real test split, the library function behind ``evaluate``.

Writes into ``out``: ``config.toml`` (resolved), ``metrics.json`` (defect-metrics' format), the maps /
masks / predictions of :mod:`defect_inspect.evaluation.scoring`, and ``predictions.png``; for a segmenter
trained with ``--classes multi`` also the class-index targets and predictions, per-class IoU, the mIoU over
the defect classes and with background, and ``confusion.png``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from defect_core.configs import coerce_paths, config_field, require, save_config
from defect_core.datasets import DATASET_KINDS, require_dataset_choice, require_test_split
from defect_core.datasets.splits import resolve_split_rule
from defect_inspect.data.assemble import evaluation_items
from defect_inspect.data.items import label_counts
from defect_inspect.data.real import open_real_dataset
from defect_inspect.evaluation.image_score import IMAGE_SCORES
from defect_inspect.evaluation.metrics_json import write_run_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    """Settings of ``defect-inspect evaluate``."""

    checkpoint: Path | None = config_field(None, "model.safetensors of a training run")
    dataset: str = config_field("demo", f"dataset kind: {', '.join(DATASET_KINDS)}")
    dataset_root: Path | None = config_field(
        None, "dataset folder (not needed for the built-in demo and surface-strips)"
    )
    normals_root: Path | None = config_field(
        None, "defect-spectrum: the MVTec AD folder whose <object>/test/good images are the defect-free ones"
    )
    object_name: str | None = config_field(None, "object / category (demo: brick)")
    defects: tuple[str, ...] = config_field(
        (), "defect types to test on (default: all; a folder dataset: its one type's name)"
    )
    split: str = config_field(
        "held_out",
        "real defect split to test on: held_out (DefectFill's protocol: the held-out two thirds), test (the "
        "dataset's official test split, KSDD2's test/ folder: DIAG's protocol), train or all",
    )
    split_rule: Literal["auto", "first-third", "first-10"] = config_field(
        "auto",
        "train / held-out rule: first-third, first-10 (DefectFill on VisA), auto = the dataset's "
        "DefectFill protocol (first-10 on VisA, first-third elsewhere)",
    )
    normals: bool = config_field(True, "also test on the dataset's test/good images")
    out: Path | None = config_field(None, "output folder")
    threshold: float | None = config_field(
        None, "decision threshold on P(defect) (default: the training run's)"
    )
    batch_size: int = config_field(16, "images per forward pass")
    device: str = config_field("auto", "device: auto, cpu, cuda, ...")
    mixed_precision: bool = config_field(True, "mixed precision on a GPU")
    preview_count: int = config_field(8, "rows of predictions.png")
    image_score: Literal["pooled", "max"] = config_field(
        "pooled",
        "segmenter's image-level score: pooled = max of the 21x21 average-pooled map at the model's "
        "resolution (AnomalyDiffusion's code, followed by the DefectFill tables), max = raw max",
    )

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "defects", tuple(self.defects))

        require(self, self.checkpoint is not None, "checkpoint", "give the trained model (--checkpoint FILE)")
        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        require_dataset_choice(self)
        require(
            self,
            self.dataset != "folder" or len(self.defects) == 1,
            "defects",
            "a 'folder' dataset holds one defect category: name it (--defects NAME)",
        )
        require(
            self,
            self.split in ("held_out", "test", "train", "all"),
            "split",
            "must be held_out, test, train or all",
        )
        require_test_split(self, "split")
        require(self, self.threshold is None or 0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        require(self, self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self, self.preview_count >= 1, "preview_count", "must be >= 1")
        require(self, self.image_score in IMAGE_SCORES, "image_score", f"must be one of {IMAGE_SCORES}")

    @property
    def object(self) -> str:
        """The object, with the demo's (brick) and KSDD2's defaults."""
        name = self.object_name or {"demo": "brick", "surface-strips": "brick", "ksdd2": "ksdd2"}.get(
            self.dataset
        )
        if not name:
            raise ValueError(
                f"EvaluateConfig.object_name=None: dataset {self.dataset!r} needs --object-name NAME"
            )
        return name


@dataclass(frozen=True)
class EvaluationResult:
    """The metrics document and where it and the other files went."""

    out_dir: Path
    metrics_file: Path
    picture: Path
    metrics: dict[str, Any]
    files: dict[str, Path]


def evaluate(config: EvaluateConfig, *, progress: bool = False) -> EvaluationResult:
    """Score a checkpoint on a real split (see the module docstring)."""
    # torch comes in here, not at import: the CLI builds its parser from EvaluateConfig without it
    from defect_inspect.evaluation.scoring import PICTURE_NAME, score_items
    from defect_inspect.training.checkpoint import load_checkpoint
    from defect_inspect.training.tasks import create_task
    from defect_metrics import resolve_device

    assert config.checkpoint is not None and config.out is not None
    out_dir = Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, out_dir / "config.toml")
    device = resolve_device(config.device)
    model, info = load_checkpoint(config.checkpoint, device)
    reader = open_real_dataset(
        config.dataset, config.dataset_root, config.object, config.defects, config.normals_root
    )
    task = create_task(info.task, include_good="good" in info.classes, multiclass=info.multiclass)
    items = task.select_test_items(
        evaluation_items(
            reader,
            config.object,
            defects=config.defects,
            split=config.split,
            normals=config.normals,
            split_rule=config.split_rule,
        )
    )
    scores = score_items(
        model,
        info,
        items,
        out_dir,
        device=device,
        batch_size=config.batch_size,
        mixed_precision=config.mixed_precision,
        threshold=config.threshold,
        preview_count=config.preview_count,
        progress=progress,
        image_score=config.image_score,
    )
    document = write_run_metrics(
        out_dir / "metrics.json",
        info.task,
        scores.results,
        scores.curves,
        inputs={
            "checkpoint": str(config.checkpoint),
            "dataset": config.dataset,
            "object_name": config.object,
            "split": config.split,
            "split_rule": resolve_split_rule(config.split_rule, reader.split_rule),
            "items": label_counts(items),
            "classes": list(info.classes),
        },
        settings={
            "model": info.model,
            "encoder": info.encoder,
            "resolution": info.resolution,
            "input_size": list(info.input_hw),
            "threshold": info.threshold if config.threshold is None else config.threshold,
            "image_score": config.image_score,
        },
    )
    return EvaluationResult(out_dir, out_dir / "metrics.json", out_dir / PICTURE_NAME, document, scores.files)
