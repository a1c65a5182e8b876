"""``InspectConfig``: every setting of one inspection-model run (train-classifier / -segmenter / -detector).

The papers fix the architectures (DefectFill: ResNet-34 classifier, UNet with focal loss; DIAG: ResNet-50
detector; Defect Spectrum: DeepLabV3+, MiT-B0) and the data protocol (train on generated data, test on the
real held-out two thirds), not the optimiser: the defaults below are ordinary fine-tuning values (AdamW,
lr 1e-4, 30 epochs with early stopping, 256 px, AnomalyDiffusion's image size). DIAG's published code does
fix its detector's training: ``--preset diag`` (:mod:`defect_inspect.training.presets`) sets it.

Two protocols choose the real data (``--real-train``, ``--test-split``): DefectFill's (the defaults) splits
each defect category by file name, trains on the first third and tests on the held-out two thirds; DIAG's
uses a dataset's official split (KSDD2: ``--real-train all`` takes every train positive, ``--test-split test``
tests on the ``test/`` folder).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from defect_core.builtin.datasets import is_builtin_dataset
from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import DATASET_KINDS, require_dataset_choice, require_test_split
from defect_inspect.data.balance import BALANCE_MODES
from defect_inspect.evaluation.image_score import IMAGE_SCORES
from defect_inspect.training.presets import INSPECT_PRESETS

TASKS: tuple[str, ...] = ("classifier", "segmenter", "detector")
DEFAULT_MODELS: dict[str, str] = {"classifier": "resnet34", "segmenter": "unet", "detector": "resnet50"}
TEST_SPLITS: tuple[str, ...] = ("held_out", "test", "train", "all", "none")
REAL_TRAIN: tuple[str, ...] = ("none", "train", "all")
#: the names of :mod:`defect_inspect.training.optimizers` (kept here: this module imports no torch)
OPTIMIZERS: tuple[str, ...] = ("adamw", "adam")
LR_SCHEDULES: tuple[str, ...] = ("cosine", "constant")
REAL_TRAIN_HELP = (
    "real defects to train on besides --train: none; train = the first third of each defect category by "
    "file name (DefectFill's protocol; KSDD2: of its train/ folder); all = every real training defect "
    "(DIAG's full-shot: all 246 KSDD2 train positives; test with --test-split test)"
)
#: the losses of :func:`defect_inspect.models.losses.segmentation_loss` (kept here: this module imports no torch)
SEGMENTATION_LOSSES: tuple[str, ...] = ("focal", "ce")


@dataclass(frozen=True)
class InspectConfig:
    """One training run of an inspection model on generated and / or real data, tested on real data."""

    preset: str | None = config_field(
        None,
        f"named settings ({', '.join(INSPECT_PRESETS)}): diag = DIAG's ResNet-50 detector (V1 weights, Adam "
        "1e-4 constant, batch 32, 30 epochs, no augmentation or validation, 704 x 256, official test split, "
        "per-epoch AP); a config file and explicit flags override its values",
    )
    task: Literal["classifier", "segmenter", "detector"] = config_field(
        "classifier", "classifier: defect type; segmenter: defect mask; detector: good vs. defect"
    )
    model: str | None = config_field(
        None,
        "classifier / detector: any timm name or torchvision/<name>[.<weights>] (e.g. "
        "torchvision/resnet50.IMAGENET1K_V1; default resnet34 / resnet50); segmenter: unet, "
        "deeplabv3plus, segformer, fpn (default unet)",
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
    normals_root: Path | None = config_field(
        None, "defect-spectrum: the MVTec AD folder whose <object>/train/good images are the defect-free ones"
    )
    object_name: str | None = config_field(None, "object / category of the dataset")
    defects: tuple[str, ...] = config_field(
        (), "defect types to use (default: all; a folder dataset: its one type's name)"
    )
    real_train: Literal["none", "train", "all"] = config_field("none", REAL_TRAIN_HELP)
    generated_per_real: float = config_field(
        0.0,
        "with --real-train: keep this many generated defect images per real training defect of the same "
        "type (1: a 1:1 mix; a seeded subset of the --train images); 0 keeps every generated image",
    )
    dataset_normals: bool = config_field(
        True,
        "without --normals, train on the dataset's defect-free training images (train/good; KSDD2: train/)",
    )
    test_normals: bool = config_field(True, "also test on the dataset's defect-free test images (test/good)")
    test_split: Literal["held_out", "test", "train", "all", "none"] = config_field(
        "held_out",
        "real split to test on: held_out = the held-out two thirds of each category and the test/ "
        "defect-free images (DefectFill's protocol); test = the dataset's official test split (KSDD2's "
        "test/ folder, DIAG's protocol); train, all; none: no test",
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
    classes: Literal["binary", "multi"] = config_field(
        "binary",
        "segmenter: binary = defect / background; multi = a class per pixel from the label images "
        "(Defect Spectrum): background + the defect classes, several in one image",
    )
    class_names: tuple[str, ...] = config_field(
        (),
        "--classes multi: the defect classes in output order (default: the training items' class tables "
        "merged by name; the run records them here)",
    )
    balance: Literal["none", "oversample", "undersample"] = config_field(
        "none", "class balance of the training set: none, oversample small classes, undersample large ones"
    )
    # model and optimisation
    loss: Literal["focal", "ce"] | None = config_field(
        None,
        "segmenter loss: focal (DefectFill; gamma 2, alpha 0.25; softmax focal with --classes multi) or ce "
        "(cross-entropy); default focal, and ce with --classes multi (Defect Spectrum's segmenters)",
    )
    pretrained: bool = config_field(True, "start from ImageNet weights (from the timm / torchvision caches)")
    weights: Path | None = config_field(None, "ImageNet weights file to use instead of the caches")
    epochs: int = config_field(30, "maximum number of epochs")
    batch_size: int = config_field(16, "images per step")
    optimizer: Literal["adamw", "adam"] = config_field("adamw", "optimizer: adamw, or adam (DIAG)")
    learning_rate: float = config_field(1e-4, "learning rate of the optimizer")
    lr_schedule: Literal["cosine", "constant"] = config_field(
        "cosine", "learning-rate schedule: cosine decay over the epochs, or constant (DIAG)"
    )
    weight_decay: float = config_field(1e-4, "weight decay of the optimizer (DIAG: 0)")
    augment: bool = config_field(True, "random horizontal flips of the training images (DIAG: none)")
    resolution: int = config_field(256, "square input size in pixels (unless --input-size)")
    input_size: tuple[int, ...] = config_field(
        (), "H W: a non-square input size in pixels, e.g. DIAG's 704 256 for KSDD2; empty: --resolution"
    )
    epoch_metrics: bool = config_field(
        False,
        "detector: after every epoch, the test split's AP (on the logits), ROC-AUC and precision / recall "
        "at the best-F1 threshold, in metrics.csv and metrics.png (DIAG)",
    )
    val_fraction: float = config_field(
        0.1, "share of each class held out for validation and early stopping (0: none)"
    )
    patience: int = config_field(5, "stop after this many epochs without a lower validation loss")
    threshold: float = config_field(
        0.5, "probability from which a pixel (segmenter) or image (detector) is called defect"
    )
    calibrate_threshold: bool = config_field(
        False,
        "segmenter: after training, replace --threshold by the pixel F1-max threshold of P(defect) on the "
        "validation split (data it did not train on), and score the test split with it; a segmenter trained "
        "on generated defects is often right about where but not sure enough to pass 0.5 on real ones",
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
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        if isinstance(self.real_train, bool):  # the flag's meaning before it took a value: the first third
            object.__setattr__(self, "real_train", "train" if self.real_train else "none")

        require(
            self,
            self.preset is None or self.preset in INSPECT_PRESETS,
            "preset",
            f"must be one of {', '.join(INSPECT_PRESETS)}",
        )
        require(
            self,
            self.preset != "diag" or self.task == "detector",
            "preset",
            "diag is DIAG's detector: use it with train-detector",
        )
        require(self, self.task in TASKS, "task", f"must be one of {TASKS}")
        require(self, self.real_train in REAL_TRAIN, "real_train", f"must be one of {REAL_TRAIN}")
        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        require(
            self,
            bool(self.train) or self.real_train != "none",
            "train",
            "nothing to train on: give --train DIR (generation output) and/or --real-train with --dataset",
        )
        require(self, self.real_train == "none" or self.dataset is not None, "real_train", "needs --dataset")
        require(self, self.generated_per_real >= 0, "generated_per_real", "must be >= 0")
        require(
            self,
            self.generated_per_real == 0 or (self.real_train != "none" and bool(self.train)),
            "generated_per_real",
            "mixes generated with real defects: needs --train DIR and --real-train",
        )
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
        if self.dataset is not None:
            require_test_split(self)
        require(
            self,
            not (self.real_train == "train" and self.test_split in ("train", "all")),
            "test_split",
            "testing on the real training split while training on it (--real-train) measures nothing",
        )
        require(
            self,
            not (self.real_train == "all" and self.test_split not in ("test", "none")),
            "test_split",
            "--real-train all trains on every real training defect: test on the official test split "
            "(--test-split test) or not at all",
        )
        require(self, self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {OPTIMIZERS}")
        require(self, self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"must be one of {LR_SCHEDULES}")
        require(
            self,
            not self.input_size or (len(self.input_size) == 2 and all(v >= 16 for v in self.input_size)),
            "input_size",
            "must be two sizes H W in pixels, each >= 16",
        )
        require(
            self,
            not self.epoch_metrics or self.task == "detector",
            "epoch_metrics",
            "per-epoch test metrics are the detector's (DIAG)",
        )
        require(
            self,
            not self.epoch_metrics or (self.dataset is not None and self.test_split != "none"),
            "epoch_metrics",
            "needs a test split: --dataset and a --test-split other than none",
        )
        require(self, self.balance in BALANCE_MODES, "balance", f"must be one of {BALANCE_MODES}")
        require(
            self,
            self.loss is None or self.loss in SEGMENTATION_LOSSES,
            "loss",
            f"must be one of {SEGMENTATION_LOSSES}",
        )
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
        require(
            self,
            not self.calibrate_threshold
            or (self.task == "segmenter" and self.classes == "binary" and self.val_fraction > 0),
            "calibrate_threshold",
            "calibrates a binary segmenter on its validation split: needs --val-fraction > 0",
        )
        require(self, self.image_score in IMAGE_SCORES, "image_score", f"must be one of {IMAGE_SCORES}")
        require(self, self.num_workers >= 0, "num_workers", "must be >= 0")
        require(self, self.seed >= 0, "seed", "must be >= 0")
        require(self, self.preview_count >= 1, "preview_count", "must be >= 1")
        require(
            self, not (self.multiclass and self.task != "segmenter"), "multiclass", "only for the segmenter"
        )
        require(self, self.classes in ("binary", "multi"), "classes", "must be binary or multi")
        require(
            self,
            self.classes == "binary" or (self.task == "segmenter" and not self.multiclass),
            "classes",
            "multi is the segmenter's, and replaces --multiclass (one class per image)",
        )
        require(
            self, not self.class_names or self.classes == "multi", "class_names", "only with --classes multi"
        )
        require(
            self,
            not (self.include_good and self.task != "classifier"),
            "include_good",
            "only for the classifier",
        )

    @classmethod
    def from_preset(cls, name: str, **values: Any) -> InspectConfig:
        """The preset ``name`` of :data:`INSPECT_PRESETS`, then ``values`` (which win), as the CLI builds it."""
        if name not in INSPECT_PRESETS:
            raise ValueError(f"unknown preset {name!r}; available: {', '.join(INSPECT_PRESETS)}")
        return cls(**{**INSPECT_PRESETS[name], "preset": name, **values})

    @property
    def input_hw(self) -> tuple[int, int]:
        """The model's input (height, width): ``input_size``, or ``resolution`` square."""
        if self.input_size:
            return self.input_size[0], self.input_size[1]
        return self.resolution, self.resolution

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
        """This config with the defaults that depend on other fields written out (model, encoder, object,
        loss)."""
        encoder = self.encoder
        if self.task == "segmenter" and encoder is None:
            from defect_inspect.models.segmenters import ARCHITECTURES, default_encoder

            encoder = default_encoder(self.model_name) if self.model_name.lower() in ARCHITECTURES else None
        # softmax cross-entropy is what Defect Spectrum's segmenters train with (mmsegmentation's default)
        loss = self.loss or ("ce" if self.classes == "multi" else "focal")
        return dataclasses.replace(
            self, model=self.model_name, encoder=encoder, object_name=self.object, loss=loss
        )
