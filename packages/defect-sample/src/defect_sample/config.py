"""``SampleConfig``: every setting of a generation run, with the papers' defaults.

The CLI flags are generated from it (``defect_core.configs``); a ``--config FILE.toml`` sets defaults that
explicit flags override; the resolved config is saved as ``config.toml`` in the output folder.

Settings left unset (``None`` / empty) are resolved in ``__post_init__``: first from ``preset`` (e.g.
``"diag"``), then from the mode's defaults (a concept: DefectFill's; ``prompt``: DIAG's), see
:mod:`defect_sample.sampling_defaults`. A constructed config therefore holds the values the run uses, from
the command line and from Python alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from defect_core.configs import coerce_paths, config_field, require
from defect_core.datasets import (
    DATASET_KINDS,
    NORMALS_ROOT_KINDS,
    require_dataset_choice,
    require_test_split,
)
from defect_core.masks.shapes import available_shapes
from defect_sample.job_plan import parse_shard
from defect_sample.sampling_defaults import (
    CONCEPT_DEFAULTS,
    ZERO_SHOT_DEFAULTS,
    available_sample_presets,
    sample_preset,
)

CONFIG_NAME = "config.toml"

# fields that change the images a run writes: a resumed run must agree with the saved config on these
# (not ``count``: the plan of a larger count extends the smaller one, so raising it resumes and adds)
PLAN_FIELDS = (
    "concept",
    "base_model",
    "base_model_revision",
    "prompt",
    "negative_prompt",
    "defect_name",
    "concept_prompt",
    "normals",
    "dataset",
    "dataset_root",
    "normals_root",
    "object_name",
    "normal_split",
    "masks",
    "mask_class",
    "mask_split",
    "split_rule",
    "shapes",
    "shape_size",
    "mask_threshold",
    "candidates",
    "select",
    "steps",
    "guidance",
    "seed",
    "resolution",
    "working_size",
    "output_size",
    "strength",
    "padding_mask_crop",
    "scheduler",
    "pixel_composite",
    "background_replacement",
    "dtype",
)


@dataclass(frozen=True)
class SampleConfig:
    """Settings of ``defect-sample`` (one run: concepts or a prompt, normal images, masks, output)."""

    out: Path | None = config_field(None, "output folder (defect/, mask/, manifest.jsonl, preview.png)")
    preset: Literal["diag"] | None = config_field(
        None,
        "named settings: diag = DIAG's zero-shot run on KSDD2 (SDXL inpainting 0.1, its own Euler "
        "scheduler, 30 steps, guidance 20, strength 0.99, its negative prompt, --padding-mask-crop 2, one "
        "image per (normal, mask) and no selection, 1024 x 1024 working size, outputs resized to 224 x 632); "
        "needs --prompt; any setting given explicitly overrides the preset's",
    )
    concept: tuple[Path, ...] = config_field(
        (), "concept file (.safetensors from defect-train); repeat for several concepts in one run"
    )
    base_model: str | None = config_field(
        None,
        "base inpainting model (hub id, folder or builtin:tiny); default: the one the first concept "
        "was trained on (as loaded: a removed hub id's mirror); required with --prompt",
    )
    base_model_revision: str | None = config_field(
        None, "hub revision of the base model: a branch, tag or commit hash (none: the main branch)"
    )
    force: bool = config_field(False, "apply concepts trained on another base-model architecture anyway")
    prompt: str | None = config_field(
        None,
        "zero-shot (DIAG) mode: describe the defect (e.g. 'white marks on the wall') instead of --concept",
    )
    negative_prompt: str | None = config_field(
        None,
        "negative prompt (used when guidance > 1); default with concepts none, zero-shot DIAG's 'smooth, "
        "plain, black, dark, shadow' (give '' for none)",
    )
    defect_name: str = config_field(
        "defect", "defect name recorded for zero-shot outputs (concepts carry their own)"
    )
    concept_prompt: str = config_field(
        "A photo of {token}",
        "prompt used with a concept; {token}, {object}, {defect} are filled from its card. The default "
        "is our assumption, not the paper's (DefectFill does not say what it samples with): its "
        "defect-branch training prompt, as RealFill samples; 'A {object} with {token}' is its "
        "object-branch prompt",
    )
    normals: Path | None = config_field(None, "folder of defect-free images to fill")
    dataset: str | None = config_field(
        None, f"dataset kind ({', '.join(DATASET_KINDS)}) for normal images and real masks"
    )
    dataset_root: Path | None = config_field(
        None, "dataset folder (with --dataset; not for the built-in demo and surface-strips)"
    )
    normals_root: Path | None = config_field(
        None, "defect-spectrum: the MVTec AD folder whose <object>/train/good images are the defect-free ones"
    )
    object_name: str | None = config_field(None, "object of the dataset (with --dataset)")
    normal_split: Literal["train", "test"] = config_field(
        "train", "which defect-free images of the dataset to fill"
    )
    masks: Path | None = config_field(
        None,
        "folder of real masks (e.g. the held-out split); a subfolder named like a concept's defect "
        "is used for that concept when it exists",
    )
    mask_class: str | None = config_field(
        None,
        "with --masks on a Defect-Gen output folder (defect-sample defectgen): fill only this class's "
        "pixels (default: the union of all classes, its mask/ files)",
    )
    mask_split: Literal["held_out", "train", "all", "test"] | None = config_field(
        None,
        "take the masks of each concept's category (of --defect-name with --prompt) from the dataset. "
        "DefectFill's protocol: held_out (the papers' choice) / train = the two sides of the train / "
        "held-out split by --split-rule, all = both; on KSDD2 these split the official train/ folder, so "
        "all = every train positive (DIAG's masks). DIAG's protocol: test = the official test split of a "
        "dataset that ships one (KSDD2's test/ folder)",
    )
    split_rule: Literal["auto", "first-third", "first-10"] = config_field(
        "auto",
        "train / held-out rule of --mask-split held_out / train: first-third, first-10 (DefectFill on "
        "VisA), auto = the dataset's DefectFill protocol (first-10 on VisA, first-third elsewhere)",
    )
    shapes: tuple[str, ...] = config_field(
        (), "generated mask shapes, comma-separated (star,ellipse,scratch,...), placed on the object"
    )
    shape_size: tuple[float, ...] = config_field(
        (),
        "MIN MAX size of generated shapes, as fractions of the image's short side; empty: each "
        "shape's own range",
    )
    mask_threshold: int = config_field(128, "gray level from which a mask pixel is defect")
    count: int = config_field(
        1000, "images to generate per concept (the papers generate 1000 per defect category)"
    )
    candidates: int | None = config_field(
        None, "LFS candidates per (image, mask) (default 8 with concepts, DefectFill; 1 zero-shot, DIAG)"
    )
    select: Literal["lpips", "psnr", "ssim", "none"] | None = config_field(
        None,
        "LFS metric inside the mask: highest lpips (AlexNet weights needed), lowest psnr / ssim, "
        "or none (first candidate) (default lpips with concepts, none zero-shot)",
    )
    keep_candidates: bool = config_field(False, "also write every candidate to candidates/")
    steps: int | None = config_field(
        None,
        "denoising steps before --strength (default 50 with concepts, DefectFill; 30 zero-shot, DIAG)",
    )
    guidance: float | None = config_field(
        None,
        "classifier-free guidance scale (default with concepts 1.0 = off: our assumption, not the "
        "paper's, which gives none; RealFill samples with 1.0, diffusers' inpainting pipeline defaults "
        "to 7.5. Zero-shot default 20, DIAG)",
    )
    strength: float | None = config_field(
        None,
        "start from the normal image's latent noised to this level, in (0, 1]; int(steps * strength) "
        "steps run, as in diffusers (default 1.0 = pure noise with concepts; 0.99 zero-shot, DIAG)",
    )
    padding_mask_crop: int | None = config_field(
        None,
        "generate in the mask's bounding box plus this many pixels (widened to the working aspect) at the "
        "full working size, then paste it back: pixels outside the mask stay the normal's (diffusers' "
        "padding_mask_crop; DIAG: 2). Default off; a negative value turns it off under a preset",
    )
    scheduler: Literal["ddim", "model"] | None = config_field(
        None,
        "ddim (DefectFill, the default) or model = the base model's own scheduler class and config "
        "(what a stock diffusers pipeline and DIAG sample with: Euler for SDXL inpainting)",
    )
    seed: int = config_field(0, "global seed; each image's seed derives from it and its index")
    batch_size: int = config_field(8, "candidates per UNet call (memory), not the results")
    resolution: int | None = config_field(
        None,
        "long side of the generated images (multiple of 8); default: the concept's training "
        "resolution, or the model's native size zero-shot",
    )
    working_size: tuple[int, ...] = config_field(
        (),
        "W H: generate at exactly this size (multiples of 8), squashing the aspect (DIAG: 1024 1024); "
        "instead of --resolution",
    )
    output_size: tuple[int, ...] = config_field(
        (), "W H: resize the written images and masks to this size (DIAG: 224 632); default: the working size"
    )
    pixel_composite: bool = config_field(
        False, "paste the normal pixels back outside a feathered mask (not in the paper; see README)"
    )
    background_replacement: bool = config_field(
        True, "replace the latent outside the mask by the noised normal latent at every step (DefectFill)"
    )
    shard: str | None = config_field(
        None, "do only shard i of n of the plan (i/n, 0-based), e.g. one per machine"
    )
    device: str = config_field("auto", "torch device (auto: cuda:LOCAL_RANK if available, else cpu)")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = config_field(
        "auto", "model dtype (auto: float16 on CUDA, float32 on CPU)"
    )
    lpips_weights: Path | None = config_field(
        None,
        "AlexNet weights file for LPIPS (default: torchvision's hub cache, "
        "$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth)",
    )
    preview_rows: int = config_field(8, "rows of preview.png")

    def __post_init__(self) -> None:
        coerce_paths(self)
        object.__setattr__(self, "shapes", tuple(s.strip() for s in self.shapes if s.strip()))
        object.__setattr__(self, "shape_size", tuple(float(v) for v in self.shape_size))
        object.__setattr__(self, "working_size", tuple(int(v) for v in self.working_size))
        object.__setattr__(self, "output_size", tuple(int(v) for v in self.output_size))
        if self.preset is not None:
            require(
                self,
                self.preset in available_sample_presets(),
                "preset",
                f"unknown preset; available: {', '.join(available_sample_presets())}",
            )
            require(self, bool(self.prompt), "preset", "is a zero-shot preset: it needs --prompt")
        self._resolve_unset()

        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        require(
            self,
            bool(self.concept) != bool(self.prompt),
            "concept",
            "give either --concept FILE (learned) or --prompt TEXT (zero-shot), not both and not neither",
        )
        require(
            self,
            not self.prompt or bool(self.base_model),
            "base_model",
            "zero-shot mode (--prompt) needs --base-model (a 9-channel inpainting model)",
        )
        require(
            self,
            (self.normals is None) != (self.dataset is None),
            "normals",
            "give either --normals DIR or --dataset KIND (with --dataset-root, --object-name)",
        )
        if self.dataset is not None:
            require_dataset_choice(self)
            require(self, bool(self.object_name), "object_name", "--dataset needs --object-name")
            require_test_split(self, "mask_split")
        # Defect Spectrum's normals come from elsewhere (the original MVTec AD); no other kind takes a folder
        needs_normals_root = self.dataset in NORMALS_ROOT_KINDS
        require(
            self,
            self.normals_root is None or needs_normals_root,
            "normals_root",
            f"is for --dataset {', '.join(NORMALS_ROOT_KINDS)}, which ships no defect-free images; "
            + (f"dataset {self.dataset!r} has its own" if self.dataset else "give --dataset"),
        )
        require(
            self,
            self.normals_root is not None or not needs_normals_root,
            "normals_root",
            f"dataset {self.dataset!r} ships no defect-free images: give --normals-root, the original "
            f"MVTec AD folder (<object>/{self.normal_split}/good)",
        )
        sources = [self.masks is not None, bool(self.shapes), self.mask_split is not None]
        require(
            self,
            sum(sources) == 1,
            "masks",
            "give exactly one mask source: --masks DIR, --shapes LIST or --mask-split",
        )
        require(
            self,
            self.mask_split is None or (self.dataset is not None and bool(self.concept or self.prompt)),
            "mask_split",
            "--mask-split takes the masks of each concept's defect (of --defect-name with "
            "--prompt) from --dataset; it needs --dataset and --concept or --prompt",
        )
        unknown = [s for s in self.shapes if s not in available_shapes()]
        require(
            self,
            not unknown,
            "shapes",
            f"unknown shape(s) {unknown}; available: {', '.join(available_shapes())}",
        )
        require(
            self,
            not self.shape_size
            or (len(self.shape_size) == 2 and 0 < self.shape_size[0] <= self.shape_size[1] <= 1),
            "shape_size",
            "need two fractions MIN MAX with 0 < MIN <= MAX <= 1",
        )
        require(
            self,
            self.mask_class is None or self.masks is not None,
            "mask_class",
            "--mask-class picks one class of a generation output folder given as --masks; it needs --masks",
        )
        require(self, 0 <= self.mask_threshold <= 255, "mask_threshold", "must be in 0..255")
        for name in ("count", "candidates", "batch_size", "preview_rows"):
            require(self, getattr(self, name) >= 1, name, "must be >= 1")
        require(self, self.steps >= 1, "steps", "must be >= 1")
        require(self, self.guidance >= 0, "guidance", "must be >= 0")
        require(self, 0 < self.strength <= 1, "strength", "must be in (0, 1]")
        require(
            self,
            int(self.steps * self.strength) >= 1,
            "strength",
            f"runs int(steps * strength) = int({self.steps} * {self.strength}) = 0 steps",
        )
        require(
            self,
            self.resolution is None or (self.resolution >= 8 and self.resolution % 8 == 0),
            "resolution",
            "must be a positive multiple of 8",
        )
        require(
            self,
            not self.working_size
            or (len(self.working_size) == 2 and all(v >= 8 and v % 8 == 0 for v in self.working_size)),
            "working_size",
            "need W H, both positive multiples of 8",
        )
        require(
            self,
            not (self.working_size and self.resolution is not None),
            "working_size",
            "give --working-size W H or --resolution, not both",
        )
        require(
            self,
            not self.output_size or (len(self.output_size) == 2 and min(self.output_size) >= 1),
            "output_size",
            "need W H, both positive",
        )
        if self.shard is not None:
            try:
                parse_shard(self.shard)
                problem = ""
            except ValueError as exc:
                problem = str(exc)
            require(self, not problem, "shard", problem)

    def _resolve_unset(self) -> None:
        """Fill the settings left unset: from the preset, then from the mode's defaults."""
        unset: dict[str, Any] = {}
        if self.preset is not None:
            for name, value in sample_preset(self.preset).items():
                if name == "working_size" and self.resolution is not None:
                    continue  # an explicit --resolution replaces the preset's working size
                if getattr(self, name) in (None, ()):
                    unset[name] = value
        mode = ZERO_SHOT_DEFAULTS if self.prompt else CONCEPT_DEFAULTS
        for name in ("candidates", "select", "steps", "guidance", "strength", "negative_prompt"):
            if getattr(self, name) is None and name not in unset:
                unset[name] = getattr(mode, name)
        if self.scheduler is None and "scheduler" not in unset:
            unset["scheduler"] = "ddim"
        for name, value in unset.items():
            object.__setattr__(self, name, value)

    @property
    def mask_crop_padding(self) -> int | None:
        """``padding_mask_crop`` as the pipeline takes it: ``None`` when off (unset or negative)."""
        if self.padding_mask_crop is None or self.padding_mask_crop < 0:
            return None
        return self.padding_mask_crop

    def plan_values(self) -> dict[str, object]:
        """The values of :data:`PLAN_FIELDS` as plain strings / lists (for comparing with a saved config)."""

        def plain(v: object) -> object:
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, Path):
                return str(v.expanduser().resolve())
            return v

        names = {f.name for f in fields(self)}
        return {k: plain(getattr(self, k)) for k in PLAN_FIELDS if k in names}
