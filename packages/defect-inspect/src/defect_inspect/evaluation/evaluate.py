"""``evaluate(config)``: a trained model on a real test split, the library function behind ``evaluate``.

Writes into ``out``: ``config.toml`` (resolved), ``metrics.json`` (defect-metrics' format), the maps /
masks / predictions of :mod:`defect_inspect.evaluation.scoring`, and ``predictions.png``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defect_core.builtin_datasets import is_builtin_dataset
from defect_core.configs import save_config
from defect_inspect.data.assemble import evaluation_items
from defect_inspect.data.items import label_counts
from defect_inspect.data.real import open_dataset
from defect_inspect.evaluation.metrics_json import write_run_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    """Settings of ``defect-inspect evaluate``."""

    checkpoint: Path | None = field(default=None, metadata={"help": "model.safetensors of a training run"})
    dataset: str = field(default="demo", metadata={"help": "dataset kind: demo, mvtec, visa, ksdd2, folder"})
    dataset_root: Path | None = field(default=None, metadata={"help": "dataset folder (not needed for demo)"})
    object_name: str | None = field(default=None, metadata={"help": "object / category (demo: brick)"})
    defects: tuple[str, ...] = field(default=(), metadata={"help": "defect types to test on (default: all)"})
    split: str = field(default="held_out", metadata={
        "help": "real defect split to test on: held_out (the papers' protocol), train or all"})
    normals: bool = field(default=True, metadata={"help": "also test on the dataset's test/good images"})
    out: Path | None = field(default=None, metadata={"help": "output folder"})
    threshold: float | None = field(default=None, metadata={
        "help": "decision threshold on P(defect) (default: the training run's)"})
    batch_size: int = field(default=16, metadata={"help": "images per forward pass"})
    device: str = field(default="auto", metadata={"help": "device: auto, cpu, cuda, ..."})
    mixed_precision: bool = field(default=True, metadata={"help": "mixed precision on a GPU"})
    preview_count: int = field(default=8, metadata={"help": "rows of predictions.png"})

    def __post_init__(self) -> None:
        for name in ("checkpoint", "dataset_root", "out"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "defects", tuple(self.defects))

        def need(ok: bool, name: str, why: str) -> None:
            if not ok:
                raise ValueError(f"EvaluateConfig.{name}={getattr(self, name)!r}: {why}")

        need(self.checkpoint is not None, "checkpoint", "give the trained model (--checkpoint FILE)")
        need(self.out is not None, "out", "an output folder is required (--out DIR)")
        need(is_builtin_dataset(self.dataset) or self.dataset_root is not None, "dataset_root",
             f"dataset {self.dataset!r} needs --dataset-root DIR")
        need(self.split in ("held_out", "train", "all"), "split", "must be held_out, train or all")
        need(self.threshold is None or 0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        need(self.preview_count >= 1, "preview_count", "must be >= 1")

    @property
    def object(self) -> str:
        """The object, with the demo's (brick) and KSDD2's defaults."""
        name = self.object_name or {"demo": "brick", "surface-strips": "brick", "ksdd2": "ksdd2"}.get(self.dataset)
        if not name:
            raise ValueError(f"EvaluateConfig.object_name=None: dataset {self.dataset!r} needs --object-name NAME")
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
    from defect_inspect.training.device import resolve_device
    from defect_inspect.training.tasks import create_task

    assert config.checkpoint is not None and config.out is not None
    out_dir = Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, out_dir / "config.toml")
    device = resolve_device(config.device)
    model, info = load_checkpoint(config.checkpoint, device)
    reader = open_dataset(config.dataset, config.dataset_root, config.object)
    task = create_task(info.task, include_good="good" in info.classes, multiclass=info.multiclass)
    items = task.select_test_items(
        evaluation_items(reader, config.object, defects=config.defects, split=config.split, normals=config.normals)
    )
    scores = score_items(model, info, items, out_dir, device=device, batch_size=config.batch_size,
                         mixed_precision=config.mixed_precision, threshold=config.threshold,
                         preview_count=config.preview_count, progress=progress)
    document = write_run_metrics(
        out_dir / "metrics.json", info.task, scores.results, scores.curves,
        inputs={"checkpoint": str(config.checkpoint), "dataset": config.dataset, "object_name": config.object,
                "split": config.split, "items": label_counts(items), "classes": list(info.classes)},
        settings={"model": info.model, "encoder": info.encoder, "resolution": info.resolution,
                  "threshold": info.threshold if config.threshold is None else config.threshold},
    )
    return EvaluationResult(out_dir, out_dir / "metrics.json", out_dir / PICTURE_NAME, document, scores.files)
