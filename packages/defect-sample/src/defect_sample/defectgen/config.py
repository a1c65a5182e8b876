"""``DefectGenSampleConfig``: every setting of a ``defect-sample defectgen`` run, with the paper's defaults.

The CLI flags are generated from it; ``--config FILE.toml`` sets defaults that explicit flags override; the
resolved config is saved as ``config.toml`` in the output folder, and a resumed run must agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from defect_core.configs import coerce_paths, config_field, require
from defect_sample.job_plan import parse_shard

# settings that change the images: a resumed run must agree with the saved config on these (not ``count``:
# the plan of a larger count extends the smaller one; not ``batch_size``: items do not depend on it)
DEFECTGEN_PLAN_FIELDS = ("generator", "seed", "steps", "switch_step", "eta", "dtype")


@dataclass(frozen=True)
class DefectGenSampleConfig:
    """Settings of ``defect-sample defectgen`` (one generator, ``count`` images with their labels)."""

    generator: Path | None = config_field(
        None,
        "Defect-Gen generator folder (large/, small/, scheduler/, defectgen.json; defect-train defectgen)",
    )
    out: Path | None = config_field(
        None, "output folder (defect/, mask/, labels/, labels_color/, manifest.jsonl, preview.png)"
    )
    count: int = config_field(1000, "images to generate (the papers generate 1000 per category)")
    seed: int = config_field(0, "global seed; each image's seed derives from it and its index")
    batch_size: int = config_field(8, "images per network call (memory); the images do not depend on it")
    steps: int | None = config_field(
        None,
        "sampling steps: default all of the generator's training steps (1000) with the DDPM update, as the "
        "paper samples; fewer: DDIM on evenly spaced steps",
    )
    switch_step: int | None = config_field(
        None,
        "the large network runs the steps t >= this, the small one the steps below (default: the "
        "generator's card, 400 in the paper; 0 = large only, 1000 = small only)",
    )
    eta: float = config_field(0.0, "DDIM noise with --steps (0: deterministic; 1: ancestral)")
    shard: str | None = config_field(
        None, "do only shard i of n of the plan (i/n, 0-based), e.g. one per machine"
    )
    device: str = config_field("auto", "torch device (auto: cuda:LOCAL_RANK if available, else cpu)")
    dtype: Literal["float32", "float16", "bfloat16"] = config_field(
        "float32",
        "network dtype (float32 by default: the labels are an argmax of the class channels, which "
        "half precision can flip)",
    )
    preview_rows: int = config_field(8, "rows of preview.png (image | colour label overlay)")

    def __post_init__(self) -> None:
        coerce_paths(self)
        require(
            self, self.generator is not None, "generator", "a generator folder is required (--generator DIR)"
        )
        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        for name in ("count", "batch_size", "preview_rows"):
            require(self, getattr(self, name) >= 1, name, "must be >= 1")
        require(self, self.seed >= 0, "seed", "must be >= 0")
        require(self, self.steps is None or self.steps >= 1, "steps", "must be >= 1")
        require(self, self.switch_step is None or self.switch_step >= 0, "switch_step", "must be >= 0")
        require(self, 0.0 <= self.eta <= 1.0, "eta", "must be in [0, 1]")
        if self.shard is not None:
            try:
                parse_shard(self.shard)
                problem = ""
            except ValueError as exc:
                problem = str(exc)
            require(self, not problem, "shard", problem)

    def plan_values(self) -> dict[str, object]:
        """The values of :data:`DEFECTGEN_PLAN_FIELDS` as plain values (to compare with a saved config)."""
        names = {f.name for f in fields(self)}
        return {
            k: (str(Path(v).expanduser().resolve()) if isinstance(v, Path) else v)
            for k in DEFECTGEN_PLAN_FIELDS
            if k in names
            for v in [getattr(self, k)]
        }
