"""``ReviewConfig``: every setting of ``defect-sample review``, with the papers' defaults where they have one.

The command's flags are generated from it (``defect_core.configs``), as for the generation CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import DATASET_KINDS, require_dataset_choice

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_CANDIDATES = 4
"""Candidates per generation in the app. DefectFill's LFS keeps 1 of 8; here the expert is the selector and
LFS is only shown, so a grid that is quick to judge (and twice as fast on a CPU) is the default."""


@dataclass(frozen=True)
class ReviewConfig:
    """Settings of the review app: the folders it may read and write, the model, the server."""

    normals: Path | None = config_field(None, "folder of defect-free images to pick from (read only)")
    out: Path | None = config_field(
        None,
        "output folder: accepted items in defect/ + mask/ + manifest.jsonl (as defect-sample writes "
        "them), every decision in review.jsonl",
    )
    concept: tuple[Path, ...] = config_field(
        (), "concept file(s) to offer (.safetensors from defect-train); without one, prompts only"
    )
    base_model: str | None = config_field(
        None,
        "base inpainting model (hub id, folder, builtin:texture, builtin:tiny); default: the first "
        "concept's; required without --concept",
    )
    force: bool = config_field(False, "apply concepts trained on another base-model architecture anyway")
    negative_prompt: str | None = config_field(None, "default negative prompt in the page")
    defect_name: str = config_field("defect", "default defect name recorded for prompt (zero-shot) items")
    dataset: str | None = config_field(
        None, f"dataset kind ({', '.join(DATASET_KINDS)}) whose real masks the page offers"
    )
    dataset_root: Path | None = config_field(
        None, "dataset folder (with --dataset, not for a built-in one; read only)"
    )
    object_name: str | None = config_field(None, "object of the dataset (with --dataset)")
    real: Path | None = config_field(
        None, "folder of real defect images: the KID panel compares the accepted set with it (read only)"
    )
    kid_features: Literal["inception", "random-network"] = config_field(
        "inception",
        "KID features: Inception-v3 from clean-fid's cache (DESIGN.md §5), or a seeded random "
        "ConvNet (an offline stand-in that ranks sets but compares with no published number)",
    )
    candidates: int = config_field(DEFAULT_CANDIDATES, "default candidates per generation")
    steps: int | None = config_field(
        None, "default DDIM steps (default 50 with a concept, DefectFill; 30 with a prompt, DIAG)"
    )
    guidance: float | None = config_field(
        None, "default guidance scale (default 1.0 with a concept, DefectFill; 20 with a prompt, DIAG)"
    )
    seed: int = config_field(0, "default seed of the first generation")
    select: Literal["lpips", "psnr", "ssim"] = config_field(
        "lpips",
        "LFS metric shown beside each candidate (not imposed): highest lpips (AlexNet weights "
        "needed), lowest psnr / ssim (no weights)",
    )
    lpips_weights: Path | None = config_field(None, "AlexNet weights file for LPIPS")
    shape_size: tuple[float, ...] = config_field(
        (), "MIN MAX size of generated shapes, as fractions of the image's short side"
    )
    mask_threshold: int = config_field(128, "gray level from which an uploaded mask pixel is defect")
    resolution: int | None = config_field(
        None,
        "long side of the generated images (multiple of 8); default: the concept's training "
        "resolution, or the model's native size with a prompt",
    )
    max_upload_mb: float = config_field(16.0, "largest upload accepted, in MiB")
    max_upload_side: int = config_field(4096, "largest side of an uploaded image, in pixels")
    host: str = config_field(
        "127.0.0.1",
        "address to listen on; anything but 127.0.0.1 / localhost lets other machines in (warned)",
    )
    port: int = config_field(7860, "port to listen on")
    auth: str | None = config_field(None, "USER:PASS that the page asks for")
    device: str = config_field("auto", "torch device (auto: cuda if available, else cpu)")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = config_field(
        "auto", "model dtype (auto: float16 on CUDA, float32 on CPU)"
    )

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "shape_size", tuple(float(v) for v in self.shape_size))

        require(
            self,
            self.normals is not None,
            "normals",
            "a folder of defect-free images is required (--normals DIR)",
        )
        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        require(
            self,
            bool(self.concept) or bool(self.base_model),
            "base_model",
            "without --concept, name the base model (--base-model, e.g. builtin:texture)",
        )
        if self.dataset is not None:
            require_dataset_choice(self)
            require(self, bool(self.object_name), "object_name", "--dataset needs --object-name")
        require(
            self,
            not self.shape_size
            or (len(self.shape_size) == 2 and 0 < self.shape_size[0] <= self.shape_size[1] <= 1),
            "shape_size",
            "need two fractions MIN MAX with 0 < MIN <= MAX <= 1",
        )
        require(self, 0 <= self.mask_threshold <= 255, "mask_threshold", "must be in 0..255")
        require(self, self.candidates >= 1, "candidates", "must be >= 1")
        require(self, self.steps is None or self.steps >= 1, "steps", "must be >= 1")
        require(self, self.guidance is None or self.guidance >= 0, "guidance", "must be >= 0")
        require(self, self.seed >= 0, "seed", "must be >= 0")
        require(
            self,
            self.resolution is None or (self.resolution >= 8 and self.resolution % 8 == 0),
            "resolution",
            "must be a positive multiple of 8",
        )
        require(self, self.max_upload_mb > 0, "max_upload_mb", "must be > 0")
        require(self, self.max_upload_side >= 8, "max_upload_side", "must be >= 8")
        require(self, 0 <= self.port <= 65535, "port", "must be in 0..65535")
        require(
            self,
            self.auth is None or (":" in self.auth and all(self.auth.split(":", 1))),
            "auth",
            "must look like USER:PASS (both non-empty)",
        )

    @property
    def is_local(self) -> bool:
        """Whether the server listens on this machine only."""
        return self.host in LOCAL_HOSTS

    @property
    def auth_pair(self) -> tuple[str, str] | None:
        """``--auth USER:PASS`` as (user, password), or None."""
        if self.auth is None:
            return None
        user, password = self.auth.split(":", 1)
        return user, password

    @property
    def upload_limit_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
