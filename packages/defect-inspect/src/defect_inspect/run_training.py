"""``train_inspection_model(config)``: one whole run, the library function behind ``train-classifier``,
``train-segmenter`` and ``train-detector``.

data (generated, real, normals) → validation split → class balance → model (ImageNet weights) → training
with early stopping → test on the real held-out split → files. A run folder holds: ``config.toml``
(resolved), ``model.safetensors`` (best epoch), ``checkpoints/last.safetensors``, ``history.csv`` and
``loss.png``, ``metrics.json`` (defect-metrics' format, so ``defect-metrics report`` compares runs),
``predictions.png``, and the test files of :mod:`defect_inspect.evaluation.scoring` under ``test/``. With
``epoch_metrics`` (the detector, DIAG) also ``metrics.csv`` and ``metrics.png``: the test split's AP,
ROC-AUC and best-F1 precision / recall after every epoch (:mod:`defect_inspect.evaluation.epoch_metrics`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from defect_core.configs import config_to_dict, save_config
from defect_core.datasets.splits import resolve_split_rule
from defect_core.plotting import line_plot
from defect_inspect.data.assemble import evaluation_items, training_items
from defect_inspect.data.balance import balance_classes
from defect_inspect.data.items import InspectionItem, label_counts
from defect_inspect.data.real import open_real_dataset
from defect_inspect.data.torch_dataset import InspectionDataset
from defect_inspect.data.validation_split import stratified_split
from defect_inspect.evaluation.epoch_metrics import EpochMetricsLog, detector_logits
from defect_inspect.evaluation.metrics_json import write_run_metrics
from defect_inspect.evaluation.scoring import PICTURE_NAME, Scores, score_items, write_csv
from defect_inspect.models.registry import create_model
from defect_inspect.training.checkpoint import CheckpointInfo, save_checkpoint
from defect_inspect.training.config import InspectConfig
from defect_inspect.training.device import autocast_dtype
from defect_inspect.training.loop import EpochRecord, FitResult, fit
from defect_inspect.training.tasks import DEFECT, Task, create_task
from defect_metrics import resolve_device

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.toml"
MODEL_NAME = "model.safetensors"
METRICS_NAME = "metrics.json"


@dataclass(frozen=True)
class TrainResult:
    """What a run wrote and measured. ``metrics`` is the metrics document (also in ``metrics_file``)."""

    out_dir: Path
    checkpoint: Path
    config_file: Path
    metrics_file: Path
    picture: Path
    metrics: dict[str, Any]
    fit: FitResult


def _package_version() -> str:
    from defect_inspect import __version__

    return __version__


def balance_key(task: Task):
    """What class balance and the validation split stratify on: good vs. defect for the detector, the label
    (defect type or good) otherwise."""
    if task.kind == "detector":
        return lambda item: DEFECT if item.is_defect else "good"
    return lambda item: item.label


def _loader(
    items: list[InspectionItem], classes: list[str], config: InspectConfig, train: bool
) -> DataLoader:
    dataset = InspectionDataset(
        items,
        classes,
        config.input_hw,
        augment=train and config.augment,
        pixel_classes=classes if config.classes == "multi" else None,
    )
    generator = torch.Generator().manual_seed(config.seed)
    # batch norm cannot train on a batch of one: drop a last batch of a single image
    drop_last = train and len(items) > config.batch_size and len(items) % config.batch_size == 1
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=train,
        generator=generator,
        num_workers=config.num_workers,
        drop_last=drop_last,
    )


def _write_history(history: list[EpochRecord], out_dir: Path) -> None:
    rows = [
        [
            r.epoch,
            f"{r.train_loss:.6g}",
            "" if r.val_loss is None else f"{r.val_loss:.6g}",
            f"{r.learning_rate:.6g}",
            f"{r.seconds:.2f}",
        ]
        for r in history
    ]
    write_csv(out_dir / "history.csv", ["epoch", "train_loss", "val_loss", "learning_rate", "seconds"], rows)
    epochs = [r.epoch for r in history]
    series = {"train": (epochs, [r.train_loss for r in history])}
    if any(r.val_loss is not None for r in history):
        series["validation"] = (epochs, [float("nan") if r.val_loss is None else r.val_loss for r in history])
    line_plot(series, out_dir / "loss.png", title="loss", xlabel="epoch", ylabel="loss")


def _validation_threshold(
    model, info: CheckpointInfo, val_part, out_dir: Path, config: InspectConfig, device
):
    """The pixel F1-max threshold of P(defect) on the validation items (scored into ``out_dir/validation``);
    the configured threshold when they hold no defect pixel."""
    if not val_part:
        logger.warning("no validation items to calibrate on: keeping threshold %g", info.threshold)
        return info.threshold
    scores = score_items(
        model,
        info,
        val_part,
        out_dir / "validation",
        device=device,
        batch_size=config.batch_size,
        mixed_precision=config.mixed_precision,
        preview_count=config.preview_count,
        num_workers=config.num_workers,
        image_score=config.image_score,
    )
    found = scores.results.get("localization", {}).get("pixel_f1_threshold")
    if found is None or not 0.0 < found < 1.0:
        logger.warning("no usable F1-max threshold on the validation split: keeping %g", info.threshold)
        return info.threshold
    logger.info("calibrated threshold on the validation split: %.4f (was %g)", found, info.threshold)
    return float(found)


def train_inspection_model(config: InspectConfig, *, progress: bool = True) -> TrainResult:
    """Run one training (see the module docstring) and return what it wrote."""
    config = config.resolved()
    assert config.out is not None
    out_dir = Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    config_file = save_config(config, out_dir / CONFIG_NAME)
    torch.manual_seed(config.seed)  # the new head's initialisation, data order and flips

    task = create_task(
        config.task,
        include_good=config.include_good,
        multiclass=config.multiclass,
        loss=config.loss,
        pixel_labels=config.classes == "multi",
        class_names=config.class_names,
    )
    reader = (
        open_real_dataset(
            config.dataset, config.dataset_root, config.object_name, config.defects, config.normals_root
        )
        if config.dataset
        else None
    )
    items = task.select_train_items(
        training_items(
            config.train,
            reader=reader,
            object_name=config.object_name,
            defects=config.defects,
            real_train=config.real_train,
            normals=config.normals,
            dataset_normals=config.dataset_normals,
            split_rule=config.split_rule,
            generated_per_real=config.generated_per_real,
            seed=config.seed,
        )
    )
    classes = task.classes(items)
    if config.classes == "multi":
        # the merged class table is part of the run's settings: record it in the resolved config
        config = replace(config, class_names=tuple(classes[1:]))
        save_config(config, config_file)
    key = balance_key(task)
    train_part, val_part = stratified_split(items, key, config.val_fraction, config.seed)
    train_part = balance_classes(train_part, key, config.balance, config.seed)
    if len(train_part) < 2:
        raise ValueError(
            f"{len(train_part)} training image(s) after the validation split: need at least 2 "
            "(give more data or a smaller --val-fraction)"
        )
    test: list[InspectionItem] = []
    if reader is not None and config.test_split != "none" and config.object_name:
        test = task.select_test_items(
            evaluation_items(
                reader,
                config.object_name,
                defects=config.defects,
                split=config.test_split,
                split_rule=config.split_rule,
                normals=config.test_normals,
            )
        )
    logger.info(
        "classes %s; training %s, validation %s, test %s",
        classes,
        label_counts(train_part),
        label_counts(val_part),
        label_counts(test),
    )

    device = resolve_device(config.device)
    model = create_model(
        task.model_kind,
        config.model_name,
        config.pretrained,
        num_outputs=task.num_outputs(classes),
        encoder=config.encoder,
        weights=config.weights,
    )
    info = CheckpointInfo(
        task=config.task,
        model=config.model_name,
        encoder=config.encoder if config.task == "segmenter" else None,
        classes=tuple(classes),
        num_outputs=task.num_outputs(classes),
        resolution=config.resolution,
        multiclass=config.multiclass or config.classes == "multi",
        threshold=config.threshold,
        package_version=_package_version(),
        input_size=config.input_size,
        label_images=config.classes == "multi",
    )
    checkpoint = out_dir / MODEL_NAME
    epoch_log = EpochMetricsLog(out_dir) if config.epoch_metrics else None
    if epoch_log is not None and len({i.is_defect for i in test}) < 2:
        raise ValueError(
            f"per-epoch test metrics need defect and defect-free test images; the test split has "
            f"{label_counts(test)}"
        )
    test_loader = _loader(test, classes, config, False) if epoch_log is not None else None

    def on_epoch_end(record: EpochRecord, is_best: bool) -> None:
        save_checkpoint(
            model, replace(info, epoch=record.epoch), out_dir / "checkpoints" / "last.safetensors"
        )
        if epoch_log is not None and test_loader is not None:
            logits, truth = detector_logits(
                model, test_loader, device, autocast_dtype(device, config.mixed_precision)
            )
            epoch_log.add(record.epoch, logits, truth)

    result = fit(
        model,
        task.loss,
        _loader(train_part, classes, config, True),
        _loader(val_part, classes, config, False) if val_part else None,
        device=device,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        patience=config.patience,
        mixed_precision=config.mixed_precision,
        on_epoch_end=on_epoch_end,
        progress=progress,
        optimizer=config.optimizer,
        lr_schedule=config.lr_schedule,
    )
    # the model now holds the best epoch's weights (the last epoch's without a validation split)
    info = replace(info, epoch=result.best_epoch)
    if config.calibrate_threshold:
        info = replace(info, threshold=_validation_threshold(model, info, val_part, out_dir, config, device))
    save_checkpoint(model, info, checkpoint)
    _write_history(result.history, out_dir)

    # without a test split the validation items stand in, and without those the training items (say so)
    scored_split, scored_items = (
        ("test", test) if test else ("validation", val_part) if val_part else ("training", train_part)
    )
    scores: Scores = score_items(
        model,
        info,
        scored_items,
        out_dir / scored_split,
        device=device,
        batch_size=config.batch_size,
        mixed_precision=config.mixed_precision,
        preview_count=config.preview_count,
        num_workers=config.num_workers,
        picture_path=out_dir / PICTURE_NAME,
        progress=progress,
        image_score=config.image_score,
    )
    training: dict[str, Any] = {
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "best_val_loss": result.best_val_loss,
        "final_train_loss": result.history[-1].train_loss if result.history else None,
        "threshold": info.threshold,
        "threshold_from": "validation pixel F1-max" if config.calibrate_threshold else "config",
    }
    if epoch_log is not None:
        # the epoch rows of metrics.csv, also in metrics.json so that reports read one file
        training["epoch_metrics"] = [asdict(row) for row in epoch_log.rows]
    document = write_run_metrics(
        out_dir / METRICS_NAME,
        config.task,
        {**scores.results, "training": training},
        scores.curves,
        inputs={
            "train": [str(p) for p in config.train],
            "real_train": config.real_train,
            "dataset": config.dataset,
            "object_name": config.object_name,
            "scored_split": config.test_split if scored_split == "test" else scored_split,
            "split_rule": resolve_split_rule(config.split_rule, reader.split_rule)
            if reader is not None
            else None,
            "training_items": label_counts(train_part),
            # where the training defects came from: generated, cut-paste, real (a mixed row has two)
            "training_sources": dict(sorted(Counter(i.source for i in train_part if i.is_defect).items())),
            "validation_items": label_counts(val_part),
            "scored_items": label_counts(list(scored_items)),
            "classes": classes,
        },
        settings={
            k: v
            for k, v in config_to_dict(config).items()
            if k
            in (
                "preset",
                "model",
                "encoder",
                "resolution",
                "input_size",
                "epochs",
                "batch_size",
                "optimizer",
                "learning_rate",
                "lr_schedule",
                "weight_decay",
                "augment",
                "pretrained",
                "balance",
                "loss",
                "threshold",
                "seed",
                "image_score",
            )
        },
    )
    return TrainResult(
        out_dir, checkpoint, config_file, out_dir / METRICS_NAME, out_dir / PICTURE_NAME, document, result
    )
