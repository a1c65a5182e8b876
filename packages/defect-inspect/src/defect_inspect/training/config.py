"""``InspectConfig``: every setting of one inspection-model run (train-classifier / -segmenter / -detector).

The papers fix the architectures (DefectFill: ResNet-34 classifier, UNet with focal loss; DIAG: ResNet-50
detector; Defect Spectrum: DeepLabV3+, MiT-B0) and the data protocol (train on generated data, test on the
real held-out two thirds), not the optimiser: the defaults below are ordinary fine-tuning values (AdamW,
lr 1e-4, 30 epochs with early stopping, 256 px, AnomalyDiffusion's image size).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defect_core.builtin.datasets import is_builtin_dataset
from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import DATASET_KINDS, require_dataset_choice
from defect_inspect.data.balance import BALANCE_MODES
from defect_inspect.evaluation.image_score import IMAGE_SCORES

TASKS: tuple[str, ...] = ("classifier", "segmenter", "detector")
DEFAULT_MODELS: dict[str, str] = {"classifier": "resnet34", "segmenter": "unet", "detector": "resnet50"}
TEST_SPLITS: tuple[str, ...] = ("held_out", "train", "all", "none")
#: the losses of :func:`defect_inspect.models.losses.segmentation_loss` (kept here: this module imports no torch)
SEGMENTATION_LOSSES: tuple[str, ...] = ("focal", "ce")


@dataclass(frozen=True)
class InspectConfig:
    """One training run of an inspection model on generated and / or real data, tested on real data."""

    task: Literal["classifier", "segmenter", "detector"] = config_field(
        "classifier", "classifier: defect type; segmenter: defect mask; detector: good vs. defect"
    )
    model: str | None = config_field(
        None,
        "classifier / detector: any timm name or torchvision/<name> (default resnet34 / "
        "resnet50); segmenter: unet, deeplabv3plus, segformer, fpn (default unet)",
    )
    encoder: str | None = config_field(
        None,
        "segmenter encoder (smp name, e.g. resnet34, mit_b0, tu-<timm name>); "
        "default resnet34 (mit_b0 for segformer)",
    )
    # data
    train: tuple[Path, ...] = config_field(
        (), "generation output folder (defect/, mask/, manifest.jsonl); repeatable"
    )
    normals: Path | None = config_field(
        None, "folder of defect-free training images (default: the dataset's train/good)"
    )
    dataset: str | None = config_field(
        None, f"real dataset for the test split (and --real-train): {', '.join(DATASET_KINDS)}"
    )
    dataset_root: Path | None = config_field(
        None, "dataset folder (not needed for the built-in demo and surface-strips)"
    )
    object_name: str | None = config_field(None, "object / category of the dataset")
    defects: tuple[str, ...] = config_field(
        (), "defect types to use (default: all; a folder dataset: its one type's name)"
    )
    real_train: bool = config_field(False, "also train on the real training third of the dataset")
    dataset_normals: bool = config_field(True, "without --normals, train on the dataset's train/good images")
    test_split: Literal["held_out", "train", "all", "none"] = config_field(
        "held_out", "real split to test on (held_out: the papers' protocol; none: no test)"
    )
    split_rule: Literal["auto", "first-third", "first-10"] = config_field(
        "auto",
        "train / held-out rule of the real defects: first-third, first-10 (DefectFill on VisA), auto = "
        "the dataset's DefectFill protocol (first-10 on VisA, first-third elsewhere)",
    )
    include_good: bool = config_field(
        False, "classifier: add a 'good' class trained on the defect-free images"
    )
    multiclass: bool = config_field(
        False, "segmenter: one output class per defect type instead of defect / background"
    )
    balance: Literal["none", "oversample", "undersample"] = config_field(
        "none", "class balance of the training set: none, oversample small classes, undersample large ones"
    )
    # model and optimisation
    loss: Literal["focal", "ce"] = config_field(
        "focal", "segmenter loss: focal (DefectFill; gamma 2, alpha 0.25) or ce"
    )
    pretrained: bool = config_field(True, "start from ImageNet weights (from the timm / torchvision caches)")
    weights: Path | None = config_field(None, "ImageNet weights file to use instead of the caches")
    epochs: int = config_field(30, "maximum number of epochs")
    batch_size: int = config_field(16, "images per step")
    learning_rate: float = config_field(1e-4, "AdamW learning rate (cosine decay over the epochs)")
    weight_decay: float = config_field(1e-4, "AdamW weight decay")
    resolution: int = config_field(256, "square input size in pixels")
    val_fraction: float = config_field(
        0.1, "share of each class held out for validation and early stopping (0: none)"
    )
    patience: int = config_field(5, "stop after this many epochs without a lower validation loss")
    threshold: float = config_field(
        0.5, "probability from which a pixel (segmenter) or image (detector) is called defect"
    )
    image_score: Literal["pooled", "max"] = config_field(
        "pooled",
        "segmenter's image-level score: pooled = max of the 21x21 average-pooled map at the model's "
        "resolution (AnomalyDiffusion's code, followed by the DefectFill tables), max = raw max",
    )
    # engineering
    device: str = config_field("auto", "device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    mixed_precision: bool = config_field(True, "mixed precision on a GPU (ignored on the CPU)")
    num_workers: int = config_field(0, "data-loading worker processes")
    seed: int = config_field(0, "seed of the validation split, class balance, data order and initialisation")
    out: Path | None = config_field(
        None, "run folder: model.safetensors, config.toml, metrics.json, predictions.png, ..."
    )
    preview_count: int = config_field(8, "rows of predictions.png")

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "defects", tuple(d.strip() for d in self.defects if d.strip()))

        require(self, self.task in TASKS, "task", f"must be one of {TASKS}")
        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        require(
            self,
            bool(self.train) or self.real_train,
            "train",
            "nothing to train on: give --train DIR (generation output) and/or --real-train with --dataset",
        )
        require(self, not self.real_train or self.dataset is not None, "real_train", "needs --dataset")
        if self.dataset is not None:
            require_dataset_choice(self)
            require(
                self,
                is_builtin_dataset(self.dataset)
                or self.object_name is not None
                or self.dataset in ("ksdd2",),
                "object_name",
                f"dataset {self.dataset!r} needs --object-name NAME",
            )
            require(
                self,
                self.dataset != "folder" or len(self.defects) == 1,
                "defects",
                "a 'folder' dataset holds one defect category: name it (--defects NAME)",
            )
        require(self, self.test_split in TEST_SPLITS, "test_split", f"must be one of {TEST_SPLITS}")
        require(
            self,
            not (self.real_train and self.test_split in ("train", "all")),
            "test_split",
            "testing on the real training split while training on it (--real-train) measures nothing",
        )
        require(self, self.balance in BALANCE_MODES, "balance", f"must be one of {BALANCE_MODES}")
        require(self, self.loss in SEGMENTATION_LOSSES, "loss", f"must be one of {SEGMENTATION_LOSSES}")
        require(self, self.weights is None or self.pretrained, "weights", "given with --no-pretrained")
        require(self, self.epochs >= 1, "epochs", "must be >= 1")
        require(self, self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self, self.learning_rate > 0, "learning_rate", "must be > 0")
        require(self, self.weight_decay >= 0, "weight_decay", "must be >= 0")
        require(
            self,
            self.resolution >= 16 and self.resolution % 8 == 0,
            "resolution",
            "must be a multiple of 8, >= 16",
        )
        require(self, 0.0 <= self.val_fraction < 1.0, "val_fraction", "must be in [0, 1)")
        require(self, self.patience >= 1, "patience", "must be >= 1")
        require(self, 0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        require(self, self.image_score in IMAGE_SCORES, "image_score", f"must be one of {IMAGE_SCORES}")
        require(self, self.num_workers >= 0, "num_workers", "must be >= 0")
        require(self, self.seed >= 0, "seed", "must be >= 0")
        require(self, self.preview_count >= 1, "preview_count", "must be >= 1")
        require(
            self, not (self.multiclass and self.task != "segmenter"), "multiclass", "only for the segmenter"
        )
        require(
            self,
            not (self.include_good and self.task != "classifier"),
            "include_good",
            "only for the classifier",
        )

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
