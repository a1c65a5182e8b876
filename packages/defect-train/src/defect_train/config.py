"""``TrainConfig``: every knob of DefectFill fine-tuning, defaulting to the paper's values (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import DATASET_KINDS, require_dataset_choice


@dataclass(frozen=True)
class TrainConfig:
    """DefectFill fine-tuning of an inpainting model on a few defect image + mask pairs."""

    # data
    dataset: str = config_field("demo", f"dataset reader: one of {', '.join(DATASET_KINDS)}")
    root: Path | None = config_field(
        None, "dataset root folder (not needed for the built-in demo and surface-strips)"
    )
    normals_root: Path | None = config_field(
        None, "defect-spectrum: the MVTec AD folder whose <object>/train/good images are the defect-free ones"
    )
    object_name: str = config_field("brick", "object / category name in the dataset")
    defect_name: str = config_field("scratch", "defect type to learn")
    split: Literal["train", "held_out", "all"] = config_field(
        "train", "which examples to learn from: the split rule's training side (train), the rest, or all"
    )
    split_rule: Literal["auto", "first-third", "first-10"] = config_field(
        "auto",
        "train / held-out rule per category, by file name: first-third (AnomalyDiffusion, DefectFill on "
        "MVTec AD), first-10 (DefectFill on VisA), auto = the dataset's DefectFill protocol (first-10 on VisA); "
        "KSDD2: the first third of its official train/ positives (DefectFill's protocol; DIAG's official "
        "test/ folder is never read)",
    )
    # model and output
    base_model: str = config_field(
        "sd2-community/stable-diffusion-2-inpainting",
        "inpainting base model: hub id, local diffusers folder, or builtin:<name> (builtin:texture, "
        "a small model that knows brick, grass and gravel; builtin:tiny, random weights for tests). "
        "The default is the community mirror of Stable Diffusion 2 inpainting, the paper's model "
        "(stabilityai/stable-diffusion-2-inpainting was removed from the hub; removed ids load "
        "their mirror with a warning)",
    )
    base_model_revision: str | None = config_field(
        None,
        "hub revision of the base model: a branch, tag or commit hash (none: "
        "the main branch); the concept card records the commit loaded",
    )
    output_dir: Path = config_field(
        Path("runs/defectfill"), "run folder: concept, config, loss log, previews, checkpoints"
    )
    output: Path | None = config_field(None, "concept file path (default: <output_dir>/concept.safetensors)")
    # method (paper appendix)
    token: str = config_field("sks", "identifier token of the learned defect")
    defect_prompt: str = config_field("A photo of {token}", "prompt of the defect branch")
    object_prompt: str = config_field("A {object} with {token}", "prompt of the object branch")
    steps: int = config_field(2000, "optimisation steps")
    batch_size: int = config_field(4, "defect examples per step (each runs through both branches)")
    resolution: int = config_field(
        512,
        "long side of the training images in pixels, as in defect-sample (aspect kept, "
        "sides multiples of 8; square images: resolution x resolution)",
    )
    learning_rate: float = config_field(2e-4, "learning rate of the UNet LoRA")
    text_encoder_learning_rate: float = config_field(4e-5, "learning rate of the text-encoder LoRA")
    warmup_steps: int = config_field(100, "linear learning-rate warm-up steps")
    weight_decay: float = config_field(1e-2, "AdamW weight decay (diffusers / RealFill default)")
    max_grad_norm: float = config_field(1.0, "gradient-norm clipping (RealFill default)")
    rank: int = config_field(8, "LoRA rank")
    lora_alpha: float = config_field(16.0, "LoRA alpha (scale = alpha / rank)")
    lora_dropout: float = config_field(0.1, "LoRA dropout")
    train_text_encoder: bool = config_field(
        True, "also train LoRA on the text encoder's attention projections"
    )
    min_resize: float = config_field(1.0, "augmentation: smallest random resize factor before cropping back")
    max_resize: float = config_field(1.125, "augmentation: largest random resize factor before cropping back")
    random_boxes: int = config_field(30, "object branch: number of random boxes in M_rand")
    box_min_frac: float = config_field(0.03, "object branch: smallest box side, fraction of the image side")
    box_max_frac: float = config_field(0.25, "object branch: largest box side, fraction of the image side")
    object_alpha: float = config_field(0.3, "object loss weight outside the defect: M' = M + alpha (1 - M)")
    defect_loss_weight: float = config_field(0.5, "weight of L_def")
    object_loss_weight: float = config_field(0.2, "weight of L_obj")
    attention_loss_weight: float = config_field(0.05, "weight of L_attn")
    # engineering
    seed: int = config_field(0, "seed of data order, augmentation, noise and LoRA initialisation")
    mixed_precision: Literal["no", "fp16", "bf16"] = config_field(
        "no", "mixed precision (fp16 keeps LoRA weights in fp32)"
    )
    gradient_checkpointing: bool = config_field(
        False, "trade compute for memory in the UNet and text encoder"
    )
    checkpoint_every: int = config_field(
        500, "write a resumable checkpoint every N steps (0: only at the end)"
    )
    keep_checkpoints: int = config_field(2, "how many checkpoints to keep")
    resume: bool = config_field(False, "continue from the newest checkpoint in output_dir")
    preview_every: int = config_field(0, "also write a preview every N steps (0: only at the end)")
    preview_steps: int = config_field(50, "DDIM steps of the preview generation")
    preview_count: int = config_field(4, "previews generated on held-out masks at the end")
    log_every: int = config_field(10, "write the loss log every N steps")
    device: str = config_field("auto", "device: auto, cpu, cuda, cuda:1, ...")

    def __post_init__(self) -> None:
        coerce_paths(self)
        require_dataset_choice(self, root_field="root")
        require(self, self.steps >= 1, "steps", "must be >= 1")
        require(self, self.batch_size >= 1, "batch_size", "must be >= 1")
        require(
            self, self.resolution >= 8 and self.resolution % 8 == 0, "resolution", "must be a multiple of 8"
        )
        require(self, self.learning_rate > 0, "learning_rate", "must be > 0")
        require(self, self.text_encoder_learning_rate > 0, "text_encoder_learning_rate", "must be > 0")
        require(self, self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        require(self, self.rank >= 1, "rank", "must be >= 1")
        require(self, self.lora_alpha > 0, "lora_alpha", "must be > 0")
        require(self, 0 <= self.lora_dropout < 1, "lora_dropout", "must be in [0, 1)")
        require(
            self,
            1.0 <= self.min_resize <= self.max_resize,
            "max_resize",
            "need 1 <= min_resize <= max_resize",
        )
        require(self, self.random_boxes >= 1, "random_boxes", "must be >= 1")
        require(
            self, 0 < self.box_min_frac <= self.box_max_frac <= 1, "box_max_frac", "need 0 < min <= max <= 1"
        )
        require(self, 0 <= self.object_alpha <= 1, "object_alpha", "must be in [0, 1]")
        require(
            self,
            self.token in self.defect_prompt.format(token=self.token, object="x"),
            "defect_prompt",
            "must contain {token}",
        )
        require(
            self,
            self.token in self.object_prompt.format(token=self.token, object="x"),
            "object_prompt",
            "must contain {token}",
        )
        require(self, self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0")
        require(self, self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
        require(self, self.max_grad_norm > 0, "max_grad_norm", "must be > 0")

    @property
    def concept_path(self) -> Path:
        return self.output if self.output is not None else self.output_dir / "concept.safetensors"

    def prompts(self) -> tuple[str, str]:
        """(defect-branch prompt, object-branch prompt) with the token and object name filled in."""
        obj = self.object_name.replace("_", " ")
        return (
            self.defect_prompt.format(token=self.token, object=obj),
            self.object_prompt.format(token=self.token, object=obj),
        )


DEMO_PRESET = {
    "base_model": "builtin:texture",
    "defect_name": "hole",
    "steps": 300,
    "resolution": 64,
    "batch_size": 4,
    "learning_rate": 2e-3,
    "text_encoder_learning_rate": 4e-4,
    "warmup_steps": 20,
    "checkpoint_every": 100,
    "preview_steps": 50,
    "log_every": 10,
}
"""What ``defect-train`` with no arguments runs: the paper's method on builtin:texture at its 64 px, learning the
demo brick's hole (a scratch of 1-2 px at 128 px all but vanishes at 64 px), about two minutes on two CPU cores. 300 steps at 10x the paper's learning rates: at 2e-4 a 6 M-parameter UNet's LoRA
changes too little in a few hundred steps for the preview to show the defect."""
