"""``run_experiment(config)``: the papers' whole protocol for one object, in one call (the ``experiment``
subcommand; needs the ``experiment`` extra: ``pip install "defect-inspect[experiment]"``).

For each defect type of the object: learn a concept from the real training third (defect-train), then
generate ``count`` images per type on the dataset's defect-free images with the held-out masks
(defect-sample, all concepts in one run). Then train the classifier (defect type) and the segmenter (defect
mask) on each training set and test them on the real held-out two thirds:

- ``defectfill``: the generated defects (DefectFill's protocol);
- ``real`` (baseline): the same models without generated defects, on the real training third only;
- ``cut-paste`` (baseline): ``count`` cut-paste defects per type made from the real training third.

The segmenter also sees the dataset's defect-free training images in every setting. The report
(``report.md`` and ``report.png``, with defect-metrics' detailed tables and curves in ``report/``) compares
the settings. Steps already done in ``out`` (concepts, generated images) are reused.

The defaults are the papers' settings (2000 concept steps at 512 px, 1000 images per type, 8 LFS
candidates, ResNet-34 and UNet at 256 px, ImageNet weights). :meth:`ExperimentConfig.demo` gives the
settings of a brief CPU run on the built-in demo data with ``builtin:tiny``, which the CLI uses when the
dataset is ``demo`` and no config file is given.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defect_core.configs import save_config
from defect_inspect.data.cut_paste import write_cut_paste_set
from defect_inspect.data.real import normal_items, open_dataset, real_defect_items, resolve_defects
from defect_inspect.training.config import InspectConfig

if TYPE_CHECKING:
    from defect_inspect.training.run import TrainResult

logger = logging.getLogger(__name__)

SETTINGS: tuple[str, ...] = ("real", "cut-paste", "defectfill")
BASELINES: tuple[str, ...] = ("real", "cut-paste")
EXPERIMENT_TASKS: tuple[str, ...] = ("classifier", "segmenter")
EXTRA_HINT = 'pip install "defect-inspect[experiment]"'


def _f(default, help: str, **kwargs):  # noqa: A002 - mirrors dataclasses.field's metadata
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass(frozen=True)
class ExperimentConfig:
    """Train → sample → inspect → metrics for one object (see the module docstring)."""

    dataset: str = _f("demo", "dataset: demo, mvtec, visa, ksdd2")
    dataset_root: Path | None = _f(None, "dataset folder (not needed for demo)")
    object_name: str = _f("brick", "object / category")
    defects: tuple[str, ...] = _f((), "defect types (default: all of the object's)")
    out: Path = _f(Path("runs/experiment"), "experiment folder")
    # concepts (defect-train)
    base_model: str = _f("builtin:tiny", "inpainting base model: hub id, diffusers folder or builtin:tiny")
    concept_steps: int = _f(2000, "concept training steps (DefectFill: 2000)")
    concept_resolution: int = _f(512, "concept training and generation resolution (DefectFill: 512)")
    concept_batch_size: int = _f(4, "concept training batch (DefectFill: 4)")
    # generation (defect-sample)
    count: int = _f(1000, "generated (and cut-paste) images per defect type (DefectFill: 1000)")
    candidates: int = _f(8, "LFS candidates per image (DefectFill: 8)")
    select: str = _f("lpips", "LFS metric: lpips (DefectFill), psnr, ssim, none")
    sample_steps: int = _f(50, "DDIM steps (DefectFill: 50)")
    sample_batch_size: int = _f(8, "candidates per UNet call")
    # inspection models
    classifier: str = _f("resnet34", "classifier: timm name (DefectFill: ResNet-34)")
    segmenter: str = _f("unet", "segmenter architecture (DefectFill: UNet with focal loss)")
    encoder: str | None = _f(None, "segmenter encoder (default resnet34)")
    pretrained: bool = _f(True, "start the inspection models from ImageNet weights")
    epochs: int = _f(30, "inspection training epochs (early stopping on a validation split)")
    batch_size: int = _f(16, "inspection training batch")
    resolution: int = _f(256, "inspection input size")
    learning_rate: float = _f(1e-4, "inspection learning rate")
    patience: int = _f(5, "early-stopping patience in epochs")
    val_fraction: float = _f(0.1, "validation share of the training set")
    baselines: tuple[str, ...] = _f(BASELINES, "baseline rows: real (no generated defects), cut-paste")
    # engineering
    device: str = _f("auto", "device for every step: auto, cpu, cuda, ...")
    seed: int = _f(0, "seed of every step")

    def __post_init__(self) -> None:
        for name in ("dataset_root", "out"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "defects", tuple(self.defects))
        object.__setattr__(self, "baselines", tuple(self.baselines))

        def need(ok: bool, name: str, why: str) -> None:
            if not ok:
                raise ValueError(f"ExperimentConfig.{name}={getattr(self, name)!r}: {why}")

        need(self.dataset in ("demo", "mvtec", "visa", "ksdd2"), "dataset", "must be demo, mvtec, visa or ksdd2")
        need(self.dataset == "demo" or self.dataset_root is not None, "dataset_root",
             f"dataset {self.dataset!r} needs --dataset-root DIR")
        need(bool(self.object_name), "object_name", "must be a non-empty name")
        for name in ("concept_steps", "concept_batch_size", "count", "candidates", "sample_steps",
                     "sample_batch_size", "epochs", "batch_size", "patience"):
            need(getattr(self, name) >= 1, name, "must be >= 1")
        need(self.concept_resolution >= 8 and self.concept_resolution % 8 == 0, "concept_resolution",
             "must be a multiple of 8")
        need(self.resolution >= 16 and self.resolution % 8 == 0, "resolution", "must be a multiple of 8, >= 16")
        need(self.select in ("lpips", "psnr", "ssim", "none"), "select", "must be lpips, psnr, ssim or none")
        need(set(self.baselines) <= set(BASELINES), "baselines", f"must be a subset of {BASELINES}")
        need(self.learning_rate > 0, "learning_rate", "must be > 0")
        need(0.0 <= self.val_fraction < 1.0, "val_fraction", "must be in [0, 1)")

    @classmethod
    def demo(cls, **overrides: Any) -> ExperimentConfig:
        """The brief CPU run on the demo data with builtin:tiny (:data:`DEMO_PRESET`), then ``overrides``."""
        return dataclasses.replace(cls(), **{**DEMO_PRESET, **overrides})

    @property
    def settings(self) -> tuple[str, ...]:
        """Rows of the report: the baselines, then defectfill."""
        return tuple(s for s in SETTINGS if s in self.baselines or s == "defectfill")


DEMO_PRESET: dict[str, Any] = {
    "concept_steps": 20, "concept_resolution": 64, "concept_batch_size": 2, "count": 16, "candidates": 2,
    "select": "psnr", "sample_steps": 10, "classifier": "resnet10t", "encoder": "resnet18", "pretrained": False,
    "epochs": 8, "batch_size": 8, "resolution": 64, "learning_rate": 1e-3, "patience": 3,
}
"""A minute or two on two CPU cores: a few concept steps, 16 images per type, 64 px, psnr selection (LPIPS
needs AlexNet weights), small networks from scratch (no ImageNet weights needed): timm's ResNet-10-T
classifier (a ResNet-18 from scratch stays at chance on a few dozen images) and a UNet on ResNet-18."""


@dataclass(frozen=True)
class ExperimentResult:
    """Where everything went: the report, and per (setting, task) the training run's result."""

    out_dir: Path
    report: Path
    report_png: Path
    runs: dict[tuple[str, str], TrainResult]
    seconds: dict[str, float]


def experiment_packages():
    """(defect_train, defect_sample), or ``ImportError`` naming the extra to install."""
    try:
        import defect_sample
        import defect_train
    except ImportError as exc:
        raise ImportError(
            f"the experiment needs defect-train and defect-sample ({exc.name} is missing): {EXTRA_HINT}"
        ) from exc
    return defect_train, defect_sample


def _dataset_for_packages(config: ExperimentConfig) -> tuple[str, Path]:
    """(reader kind, root) as defect-sample needs them; the demo is an MVTec-layout folder."""
    if config.dataset == "demo":
        from defect_core.demo import ensure_demo_dataset

        return "mvtec", ensure_demo_dataset()
    assert config.dataset_root is not None
    return config.dataset, config.dataset_root


def train_concepts(config: ExperimentConfig, defects: list[str]) -> dict[str, Path]:
    """One concept per defect type under ``out/concepts/<defect>/`` (an existing concept file is reused)."""
    defect_train, _ = experiment_packages()
    concepts: dict[str, Path] = {}
    for defect in defects:
        run_dir = config.out / "concepts" / defect
        train_config = defect_train.TrainConfig(
            dataset=config.dataset, root=config.dataset_root, object_name=config.object_name, defect_name=defect,
            base_model=config.base_model, output_dir=run_dir, steps=config.concept_steps,
            resolution=config.concept_resolution, batch_size=config.concept_batch_size,
            warmup_steps=min(100, max(1, config.concept_steps // 10)), checkpoint_every=0, preview_count=2,
            preview_steps=config.sample_steps, seed=config.seed, device=config.device,
        )
        if train_config.concept_path.is_file():
            logger.info("reusing concept %s", train_config.concept_path)
            concepts[defect] = train_config.concept_path
            continue
        logger.info("training concept %s/%s (%d steps)", config.object_name, defect, config.concept_steps)
        concepts[defect] = Path(defect_train.train_concept(train_config))
    return concepts


def generate_defects(config: ExperimentConfig, concepts: dict[str, Path], progress: bool) -> Path:
    """``count`` images per concept on the held-out masks, in one defect-sample run (it resumes by itself)."""
    _, defect_sample = experiment_packages()
    kind, root = _dataset_for_packages(config)
    out = config.out / "generated"
    sample_config = defect_sample.SampleConfig(
        out=out, concept=tuple(concepts[d] for d in sorted(concepts)), dataset=kind, dataset_root=root,
        object_name=config.object_name, mask_split="held_out", count=config.count, candidates=config.candidates,
        select=config.select, steps=config.sample_steps, batch_size=config.sample_batch_size, seed=config.seed,
        device=config.device,
    )
    summary = defect_sample.run_generation(sample_config, progress=progress)
    logger.info("generation: %d written, %d reused -> %s", summary.written, summary.skipped, out)
    return out


def make_cut_paste(config: ExperimentConfig, defects: list[str]) -> list[Path]:
    """``count`` cut-paste defects per type from the real training third, one folder per type."""
    reader = open_dataset(config.dataset, config.dataset_root, config.object_name)
    normals = [item.image for item in normal_items(reader, config.object_name, "train")]
    folders = []
    for defect in defects:
        sources = real_defect_items(reader, config.object_name, "train", [defect])
        folder = config.out / "cut_paste" / defect
        write_cut_paste_set(sources, normals, folder, count=config.count, seed=config.seed)
        folders.append(folder)
    return folders


def inspection_config(config: ExperimentConfig, task: str, setting: str, train: tuple[Path, ...]) -> InspectConfig:
    """The training run of ``task`` on ``setting``'s data, tested on the real held-out split."""
    return InspectConfig(
        task=task,  # type: ignore[arg-type]
        model=config.classifier if task == "classifier" else config.segmenter,
        encoder=config.encoder if task == "segmenter" else None,
        train=train, real_train=setting == "real", dataset=config.dataset, dataset_root=config.dataset_root,
        object_name=config.object_name, defects=config.defects, pretrained=config.pretrained,
        epochs=config.epochs, batch_size=config.batch_size, resolution=config.resolution,
        learning_rate=config.learning_rate, patience=config.patience, val_fraction=config.val_fraction,
        device=config.device, seed=config.seed, out=config.out / "runs" / setting / task,
    )


def run_experiment(config: ExperimentConfig, *, progress: bool = True) -> ExperimentResult:
    """Run the protocol of the module docstring and write the report; return what was written."""
    from defect_inspect.experiment_report import write_experiment_report
    from defect_inspect.training.run import train_inspection_model

    experiment_packages()  # fail before any work when the extra is missing
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.toml")
    reader = open_dataset(config.dataset, config.dataset_root, config.object_name)
    defects = resolve_defects(reader, config.object_name, config.defects)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    concepts = train_concepts(config, defects)
    seconds["concepts"] = time.perf_counter() - started

    started = time.perf_counter()
    generated = generate_defects(config, concepts, progress)
    seconds["generation"] = time.perf_counter() - started

    sources: dict[str, tuple[Path, ...]] = {"defectfill": (generated,), "real": ()}
    if "cut-paste" in config.settings:
        started = time.perf_counter()
        sources["cut-paste"] = tuple(make_cut_paste(config, defects))
        seconds["cut-paste"] = time.perf_counter() - started

    tasks = [t for t in EXPERIMENT_TASKS if t != "classifier" or len(defects) >= 2]
    if len(tasks) < len(EXPERIMENT_TASKS):
        logger.warning("one defect type only: no defect-type classifier (it needs two classes)")
    runs: dict[tuple[str, str], TrainResult] = {}
    for setting in config.settings:
        started = time.perf_counter()
        for task in tasks:
            logger.info("training the %s on %s", task, setting)
            runs[(setting, task)] = train_inspection_model(
                inspection_config(config, task, setting, sources[setting]), progress=progress
            )
        seconds[f"inspect:{setting}"] = time.perf_counter() - started

    report, report_png = write_experiment_report(config, defects, runs, seconds)
    return ExperimentResult(out, report, report_png, runs, seconds)
