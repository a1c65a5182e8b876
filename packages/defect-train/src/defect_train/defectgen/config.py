"""``DefectGenTrainConfig``: every knob of Defect-Gen training, defaulting to the paper's values (DESIGN.md §4b)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import DATASET_KINDS, require_dataset_choice
from defect_train.defectgen.networks import NETWORK_SIZES, unet_spec


@dataclass(frozen=True)
class DefectGenTrainConfig:
    """Train Defect-Gen's two networks (large and small receptive field) on one object's defect images."""

    # data
    dataset: str = config_field("demo", f"dataset reader: one of {', '.join(DATASET_KINDS)}")
    root: Path | None = config_field(None, "dataset root folder (not needed for the built-in datasets)")
    object_name: str = config_field("brick", "object / category name in the dataset")
    defect_names: tuple[str, ...] = config_field(
        (),
        "defect categories to learn, comma- or space-separated (default: every category of the object); "
        "each becomes a class on binary datasets, multi-class datasets bring their own class table",
    )
    split_rule: Literal["auto", "first-third", "first-10"] = config_field(
        "auto",
        "training images per category: the training side of this rule, as in DefectFill's protocol "
        "(auto: the dataset's, first-10 on VisA, first-third elsewhere)",
    )
    large_images_per_class: int = config_field(
        5, "training images per category for the large-receptive-field network (paper: 5)"
    )
    small_images_per_class: int = config_field(
        50, "training images per category for the small-receptive-field network (paper: up to 50)"
    )
    resolution: int = config_field(256, "side of the square training images in pixels (paper: 256)")
    # method
    size: Literal["paper", "cpu"] = config_field(
        "paper",
        "network pair: paper (the published architectures) or cpu (a scaled-down pair that trains in "
        "minutes on a CPU at 64 px)",
    )
    switch_step: int = config_field(
        400, "sampling: the large network runs t >= switch_step, the small one below (recorded in the card)"
    )
    num_train_timesteps: int = config_field(1000, "diffusion steps T of the cosine schedule")
    steps: int = config_field(160_000, "optimisation steps of each network (paper: 160 000)")
    batch_size: int = config_field(2, "training samples per step (paper: 2)")
    learning_rate: float = config_field(1e-4, "AdamW learning rate (paper: 1e-4)")
    weight_decay: float = config_field(0.002, "AdamW weight decay (paper: 0.002)")
    ema_decay: float = config_field(
        0.9999,
        "EMA decay of the weights that sampling uses (paper: 0.9999), with diffusers' warm-up "
        "min(decay, (1 + k) / (10 + k)) so that short runs do not keep the initialisation",
    )
    # engineering
    output_dir: Path = config_field(
        Path("runs/defectgen"),
        "run folder: config.toml, large/ and small/ (loss log, checkpoints), generator/, preview.png, "
        "manifest.json, train.log",
    )
    seed: int = config_field(0, "seed of the initialisation, the data order, t and the noise")
    mixed_precision: Literal["no", "bf16"] = config_field(
        "no", "bf16: run the networks under bf16 autocast (weights, optimizer and EMA stay fp32)"
    )
    checkpoint_every: int = config_field(
        5000, "write a resumable checkpoint every N steps of a network (0: only at its end)"
    )
    keep_checkpoints: int = config_field(2, "how many checkpoints to keep per network")
    resume: bool = config_field(False, "continue from the newest checkpoints in output_dir")
    log_every: int = config_field(50, "write the loss log every N steps")
    preview_count: int = config_field(8, "generated image | label pairs in preview.png")
    preview_steps: int = config_field(
        50, "DDIM steps of the preview sampling (0: all num_train_timesteps DDPM steps, as the paper)"
    )
    device: str = config_field("auto", "device: auto, cpu, cuda, cuda:1, ...")

    def __post_init__(self) -> None:
        coerce_paths(self)
        # "a,b" from the command line or a TOML list: one name per item
        names = self.defect_names
        if isinstance(names, str):
            names = (names,)
        split = tuple(n.strip() for item in names for n in str(item).split(",") if n.strip())
        object.__setattr__(self, "defect_names", split)
        require_dataset_choice(self, root_field="root")
        require(self, bool(self.object_name.strip()), "object_name", "must be a non-empty name")
        require(self, len(set(split)) == len(split), "defect_names", "names a category more than once")
        require(self, self.size in NETWORK_SIZES, "size", f"must be one of {', '.join(NETWORK_SIZES)}")
        for role in ("large", "small"):
            factor = 2 ** (len(unet_spec(self.size, role).channel_multipliers) - 1)
            require(
                self,
                self.resolution >= 8 and self.resolution % max(8, factor) == 0,
                "resolution",
                f"must be a multiple of {max(8, factor)} for the {self.size} networks",
            )
        require(self, self.large_images_per_class >= 1, "large_images_per_class", "must be >= 1")
        require(self, self.small_images_per_class >= 1, "small_images_per_class", "must be >= 1")
        require(self, self.num_train_timesteps >= 1, "num_train_timesteps", "must be >= 1")
        require(
            self,
            0 <= self.switch_step <= self.num_train_timesteps,
            "switch_step",
            "must be in 0..num_train_timesteps",
        )
        require(self, self.steps >= 1, "steps", "must be >= 1")
        require(self, self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self, self.learning_rate > 0, "learning_rate", "must be > 0")
        require(self, self.weight_decay >= 0, "weight_decay", "must be >= 0")
        require(self, 0 <= self.ema_decay < 1, "ema_decay", "must be in [0, 1)")
        require(self, self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0")
        require(self, self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
        require(self, self.log_every >= 1, "log_every", "must be >= 1")
        require(self, self.preview_count >= 0, "preview_count", "must be >= 0")
        require(
            self,
            0 <= self.preview_steps <= self.num_train_timesteps,
            "preview_steps",
            "must be in 0..num_train_timesteps",
        )

    @property
    def generator_dir(self) -> Path:
        """Where the finished generator folder goes: ``<output_dir>/generator``."""
        return self.output_dir / "generator"


DEMO_PRESET = {
    "size": "cpu",
    "resolution": 64,
    "steps": 300,
    "learning_rate": 1e-3,
    "checkpoint_every": 100,
    "log_every": 10,
    "preview_steps": 50,
}
"""What ``defect-train defectgen --dataset demo`` fills in where the user said nothing (without ``--config``): the
cpu pair at 64 px, 300 steps per network at 10x the paper's learning rate (at 1e-4 a few hundred steps leave
noise). Measured on two CPU cores: 90 s end to end on a quiet machine, 7-13 min while other jobs load them."""
