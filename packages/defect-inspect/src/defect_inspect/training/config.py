"""``InspectConfig``: every setting of one inspection-model run (train-classifier / -segmenter / -detector).

The papers fix the architectures (DefectFill: ResNet-34 classifier, UNet with focal loss; DIAG: ResNet-50
detector; Defect Spectrum: DeepLabV3+, MiT-B0) and the data protocol (train on generated data, test on the
real held-out two thirds), not the optimiser: the defaults below are ordinary fine-tuning values (AdamW,
lr 1e-4, 30 epochs with early stopping, 256 px, AnomalyDiffusion's image size).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from defect_core.builtin_datasets import is_builtin_dataset
from defect_inspect.data.balance import BALANCE_MODES

TASKS: tuple[str, ...] = ("classifier", "segmenter", "detector")
DEFAULT_MODELS: dict[str, str] = {"classifier": "resnet34", "segmenter": "unet", "detector": "resnet50"}
TEST_SPLITS: tuple[str, ...] = ("held_out", "train", "all", "none")
#: the losses of :func:`defect_inspect.models.losses.segmentation_loss` (kept here: this module imports no torch)
SEGMENTATION_LOSSES: tuple[str, ...] = ("focal", "ce")


def _f(default, help: str, **kwargs):  # noqa: A002 - mirrors dataclasses.field's metadata
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass(frozen=True)
class InspectConfig:
    """One training run of an inspection model on generated and / or real data, tested on real data."""

    task: Literal["classifier", "segmenter", "detector"] = _f(
        "classifier", "classifier: defect type; segmenter: defect mask; detector: good vs. defect")
    model: str | None = _f(None, "classifier / detector: any timm name or torchvision/<name> (default resnet34 / "
                                 "resnet50); segmenter: unet, deeplabv3plus, segformer, fpn (default unet)")
    encoder: str | None = _f(None, "segmenter encoder (smp name, e.g. resnet34, mit_b0, tu-<timm name>); "
                                   "default resnet34 (mit_b0 for segformer)")
    # data
    train: tuple[Path, ...] = _f((), "generation output folder (defect/, mask/, manifest.jsonl); repeatable")
    normals: Path | None = _f(None, "folder of defect-free training images (default: the dataset's train/good)")
    dataset: str | None = _f(None, "real dataset for the test split (and --real-train): demo, mvtec, visa, "
                                   "ksdd2, folder")
    dataset_root: Path | None = _f(None, "dataset folder (not needed for demo)")
    object_name: str | None = _f(None, "object / category of the dataset")
    defects: tuple[str, ...] = _f((), "defect types to use (default: all)")
    real_train: bool = _f(False, "also train on the real training third of the dataset")
    dataset_normals: bool = _f(True, "without --normals, train on the dataset's train/good images")
    test_split: Literal["held_out", "train", "all", "none"] = _f(
        "held_out", "real split to test on (held_out: the papers' protocol; none: no test)")
    include_good: bool = _f(False, "classifier: add a 'good' class trained on the defect-free images")
    multiclass: bool = _f(False, "segmenter: one output class per defect type instead of defect / background")
    balance: Literal["none", "oversample", "undersample"] = _f(
        "none", "class balance of the training set: none, oversample small classes, undersample large ones")
    # model and optimisation
    loss: Literal["focal", "ce"] = _f("focal", "segmenter loss: focal (DefectFill; gamma 2, alpha 0.25) or ce")
    pretrained: bool = _f(True, "start from ImageNet weights (from the timm / torchvision caches)")
    weights: Path | None = _f(None, "ImageNet weights file to use instead of the caches")
    epochs: int = _f(30, "maximum number of epochs")
    batch_size: int = _f(16, "images per step")
    learning_rate: float = _f(1e-4, "AdamW learning rate (cosine decay over the epochs)")
    weight_decay: float = _f(1e-4, "AdamW weight decay")
    resolution: int = _f(256, "square input size in pixels")
    val_fraction: float = _f(0.1, "share of each class held out for validation and early stopping (0: none)")
    patience: int = _f(5, "stop after this many epochs without a lower validation loss")
    threshold: float = _f(0.5, "probability from which a pixel (segmenter) or image (detector) is called defect")
    # engineering
    device: str = _f("auto", "device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    mixed_precision: bool = _f(True, "mixed precision on a GPU (ignored on the CPU)")
    num_workers: int = _f(0, "data-loading worker processes")
    seed: int = _f(0, "seed of the validation split, class balance, data order and initialisation")
    out: Path | None = _f(None, "run folder: model.safetensors, config.toml, metrics.json, predictions.png, ...")
    preview_count: int = _f(8, "rows of predictions.png")

    def __post_init__(self) -> None:
        for name in ("normals", "dataset_root", "weights", "out"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "train", tuple(Path(p) for p in self.train))
        object.__setattr__(self, "defects", tuple(d.strip() for d in self.defects if d.strip()))

        def need(ok: bool, name: str, why: str) -> None:
            if not ok:
                raise ValueError(f"InspectConfig.{name}={getattr(self, name)!r}: {why}")

        need(self.task in TASKS, "task", f"must be one of {TASKS}")
        need(self.out is not None, "out", "an output folder is required (--out DIR)")
        need(bool(self.train) or self.real_train, "train",
             "nothing to train on: give --train DIR (generation output) and/or --real-train with --dataset")
        need(not self.real_train or self.dataset is not None, "real_train", "needs --dataset")
        if self.dataset is not None:
            from defect_inspect.data.real import dataset_kinds

            need(self.dataset in dataset_kinds(), "dataset", f"must be one of {dataset_kinds()}")
            need(is_builtin_dataset(self.dataset) or self.dataset_root is not None, "dataset_root",
                 f"dataset {self.dataset!r} needs --dataset-root DIR")
            need(is_builtin_dataset(self.dataset) or self.object_name is not None or self.dataset in ("ksdd2",),
                 "object_name", f"dataset {self.dataset!r} needs --object-name NAME")
        need(self.test_split in TEST_SPLITS, "test_split", f"must be one of {TEST_SPLITS}")
        need(not (self.real_train and self.test_split in ("train", "all")), "test_split",
             "testing on the real training split while training on it (--real-train) measures nothing")
        need(self.balance in BALANCE_MODES, "balance", f"must be one of {BALANCE_MODES}")
        need(self.loss in SEGMENTATION_LOSSES, "loss", f"must be one of {SEGMENTATION_LOSSES}")
        need(self.weights is None or self.pretrained, "weights", "given with --no-pretrained")
        need(self.epochs >= 1, "epochs", "must be >= 1")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        need(self.learning_rate > 0, "learning_rate", "must be > 0")
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(self.resolution >= 16 and self.resolution % 8 == 0, "resolution", "must be a multiple of 8, >= 16")
        need(0.0 <= self.val_fraction < 1.0, "val_fraction", "must be in [0, 1)")
        need(self.patience >= 1, "patience", "must be >= 1")
        need(0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        need(self.num_workers >= 0, "num_workers", "must be >= 0")
        need(self.seed >= 0, "seed", "must be >= 0")
        need(self.preview_count >= 1, "preview_count", "must be >= 1")
        need(not (self.multiclass and self.task != "segmenter"), "multiclass", "only for the segmenter")
        need(not (self.include_good and self.task != "classifier"), "include_good", "only for the classifier")

    @property
    def model_name(self) -> str:
        """The model, or the task's default (DEFAULT_MODELS)."""
        return self.model or DEFAULT_MODELS[self.task]

    @property
    def object(self) -> str | None:
        """The object name, with the demo's default (brick) and KSDD2's single object filled in."""
        if self.object_name:
            return self.object_name
        return {"demo": "brick", "surface-strips": "brick", "ksdd2": "ksdd2"}.get(self.dataset or "")

    def resolved(self) -> InspectConfig:
        """This config with the defaults that depend on other fields written out (model, encoder, object)."""
        encoder = self.encoder
        if self.task == "segmenter" and encoder is None:
            from defect_inspect.models.segmenters import ARCHITECTURES, default_encoder

            encoder = default_encoder(self.model_name) if self.model_name.lower() in ARCHITECTURES else None
        return dataclasses.replace(self, model=self.model_name, encoder=encoder, object_name=self.object)
