"""``SampleConfig``: every setting of a generation run, with the papers' defaults.

The CLI flags are generated from it (``defect_core.configs``); a ``--config FILE.toml`` sets defaults that
explicit flags override; the resolved config is saved as ``config.toml`` in the output folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from defect_core.mask_shapes import available_shapes
from defect_sample.job_plan import parse_shard

CONFIG_NAME = "config.toml"

# fields that change the images a run writes: a resumed run must agree with the saved config on these
# (not ``count``: the plan of a larger count extends the smaller one, so raising it resumes and adds)
PLAN_FIELDS = (
    "concept", "base_model", "prompt", "negative_prompt", "defect_name", "concept_prompt", "normals", "dataset",
    "dataset_root", "object_name", "normal_split", "masks", "mask_split", "shapes", "shape_size",
    "mask_threshold", "candidates", "select", "steps", "guidance", "seed", "resolution",
    "pixel_composite", "background_replacement", "dtype",
)


@dataclass(frozen=True)
class SampleConfig:
    """Settings of ``defect-sample`` (one run: concepts or a prompt, normal images, masks, output)."""

    out: Path | None = field(default=None, metadata={"help": "output folder (defect/, mask/, manifest.jsonl, preview.png)"})
    concept: tuple[Path, ...] = field(default=(), metadata={
        "help": "concept file (.safetensors from defect-train); repeat for several concepts in one run"})
    base_model: str | None = field(default=None, metadata={
        "help": "base inpainting model (hub id, folder or builtin:tiny); default: the one named in the "
                "first concept's card; required with --prompt"})
    force: bool = field(default=False, metadata={
        "help": "apply concepts trained on another base-model architecture anyway"})
    prompt: str | None = field(default=None, metadata={
        "help": "zero-shot (DIAG) mode: describe the defect (e.g. 'white marks on the wall') instead of --concept"})
    negative_prompt: str | None = field(default=None, metadata={"help": "negative prompt (used when guidance > 1)"})
    defect_name: str = field(default="defect", metadata={
        "help": "defect name recorded for zero-shot outputs (concepts carry their own)"})
    concept_prompt: str = field(default="A photo of {token}", metadata={
        "help": "prompt used with a concept; {token}, {object}, {defect} are filled from its card "
                "(DefectFill's defect-branch prompt)"})
    normals: Path | None = field(default=None, metadata={"help": "folder of defect-free images to fill"})
    dataset: str | None = field(default=None, metadata={
        "help": "dataset reader kind (mvtec, visa, ksdd2, folder) for normal images and real masks"})
    dataset_root: Path | None = field(default=None, metadata={"help": "dataset folder (with --dataset)"})
    object_name: str | None = field(default=None, metadata={"help": "object of the dataset (with --dataset)"})
    normal_split: Literal["train", "test"] = field(default="train", metadata={
        "help": "which defect-free images of the dataset to fill"})
    masks: Path | None = field(default=None, metadata={
        "help": "folder of real masks (e.g. the held-out split); a subfolder named like a concept's defect "
                "is used for that concept when it exists"})
    mask_split: Literal["held_out", "train", "all"] | None = field(default=None, metadata={
        "help": "take the masks of each concept's category from the dataset: this side of the "
                "first-third split (held_out = the papers' protocol)"})
    shapes: tuple[str, ...] = field(default=(), metadata={
        "help": "generated mask shapes, comma-separated (star,ellipse,scratch,...), placed on the object"})
    shape_size: tuple[float, ...] = field(default=(), metadata={
        "help": "MIN MAX size of generated shapes, as fractions of the image's short side; empty: each "
                "shape's own range"})
    mask_threshold: int = field(default=128, metadata={"help": "gray level from which a mask pixel is defect"})
    count: int = field(default=1000, metadata={
        "help": "images to generate per concept (the papers generate 1000 per defect category)"})
    candidates: int = field(default=8, metadata={"help": "LFS candidates per (image, mask) (DefectFill: 8)"})
    select: Literal["lpips", "psnr", "ssim", "none"] = field(default="lpips", metadata={
        "help": "LFS metric inside the mask: highest lpips (AlexNet weights needed), lowest psnr / ssim, "
                "or none (first candidate)"})
    keep_candidates: bool = field(default=False, metadata={"help": "also write every candidate to candidates/"})
    steps: int | None = field(default=None, metadata={
        "help": "DDIM steps (default 50 with concepts, DefectFill; 30 zero-shot, DIAG)"})
    guidance: float | None = field(default=None, metadata={
        "help": "classifier-free guidance scale (default 1.0 = off with concepts, RealFill / DefectFill; "
                "20 zero-shot, DIAG)"})
    seed: int = field(default=0, metadata={"help": "global seed; each image's seed derives from it and its index"})
    batch_size: int = field(default=8, metadata={"help": "candidates per UNet call (memory), not the results"})
    resolution: int | None = field(default=None, metadata={
        "help": "long side of the generated images (multiple of 8); default: the concept's training "
                "resolution, or the model's native size zero-shot"})
    pixel_composite: bool = field(default=False, metadata={
        "help": "paste the normal pixels back outside a feathered mask (not in the paper; see README)"})
    background_replacement: bool = field(default=True, metadata={
        "help": "replace the latent outside the mask by the noised normal latent at every step (DefectFill)"})
    shard: str | None = field(default=None, metadata={
        "help": "do only shard i of n of the plan (i/n, 0-based), e.g. one per machine"})
    device: str = field(default="auto", metadata={"help": "torch device (auto: cuda:LOCAL_RANK if available, else cpu)"})
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = field(default="auto", metadata={
        "help": "model dtype (auto: float16 on CUDA, float32 on CPU)"})
    lpips_weights: Path | None = field(default=None, metadata={
        "help": "AlexNet weights file for LPIPS (default: torchvision's hub cache, "
                "$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth)"})
    preview_rows: int = field(default=8, metadata={"help": "rows of preview.png"})

    def __post_init__(self) -> None:
        for name in ("out", "normals", "dataset_root", "masks", "lpips_weights"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "concept", tuple(Path(p) for p in self.concept))
        object.__setattr__(self, "shapes", tuple(s.strip() for s in self.shapes if s.strip()))
        object.__setattr__(self, "shape_size", tuple(float(v) for v in self.shape_size))

        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"SampleConfig.{name}={getattr(self, name)!r}: {why}")

        if self.out is None:
            raise bad("out", "an output folder is required (--out DIR)")
        if bool(self.concept) == bool(self.prompt):
            raise bad("concept", "give either --concept FILE (learned) or --prompt TEXT (zero-shot), not both "
                                 "and not neither")
        if self.prompt and not self.base_model:
            raise bad("base_model", "zero-shot mode (--prompt) needs --base-model (a 9-channel inpainting model)")
        if (self.normals is None) == (self.dataset is None):
            raise bad("normals", "give either --normals DIR or --dataset KIND (with --dataset-root, --object-name)")
        if self.dataset is not None and (self.dataset_root is None or not self.object_name):
            raise bad("dataset", "--dataset needs --dataset-root and --object-name")
        sources = [self.masks is not None, bool(self.shapes), self.mask_split is not None]
        if sum(sources) != 1:
            raise bad("masks", "give exactly one mask source: --masks DIR, --shapes LIST or --mask-split")
        if self.mask_split is not None and (self.dataset is None or not (self.concept or self.prompt)):
            raise bad("mask_split", "--mask-split takes the masks of each concept's defect (of --defect-name with "
                                    "--prompt) from --dataset; it needs --dataset and --concept or --prompt")
        unknown = [s for s in self.shapes if s not in available_shapes()]
        if unknown:
            raise bad("shapes", f"unknown shape(s) {unknown}; available: {', '.join(available_shapes())}")
        if self.shape_size and not (len(self.shape_size) == 2 and 0 < self.shape_size[0] <= self.shape_size[1] <= 1):
            raise bad("shape_size", "need two fractions MIN MAX with 0 < MIN <= MAX <= 1")
        if not 0 <= self.mask_threshold <= 255:
            raise bad("mask_threshold", "must be in 0..255")
        for name in ("count", "candidates", "batch_size", "preview_rows"):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if self.steps is not None and self.steps < 1:
            raise bad("steps", "must be >= 1")
        if self.guidance is not None and self.guidance < 0:
            raise bad("guidance", "must be >= 0")
        if self.resolution is not None and (self.resolution < 8 or self.resolution % 8):
            raise bad("resolution", "must be a positive multiple of 8")
        if self.shard is not None:
            try:
                parse_shard(self.shard)
            except ValueError as exc:
                raise bad("shard", str(exc)) from None

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
