"""`defect-inspect experiment --dataset surface-strips`: the proof-of-method rows (LFS on / off, zero-shot, the
loss ablations) and the KID / IC-LPIPS columns, run small on builtin:tiny so that it takes seconds.

The numbers of a random-weight model mean nothing; what is checked is that each row is made the way its
name says: ablated concepts are trained with that loss weight at 0, the no-LFS row keeps one candidate, the
zero-shot row has no concept and uses the prompt, and the report's quality columns are the measured values.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from test_experiment import _report_table

from defect_core.concept_file import read_concept_card
from defect_core.manifest import read_manifest
from defect_inspect.experiment import ExperimentConfig, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_strip_rows_are_made_as_named(tmp_path: Path) -> None:
    config = ExperimentConfig.surface_strips(
        out=tmp_path / "exp",
        base_model="builtin:tiny",
        defects=("hole",),
        concept_steps=2,
        count=4,
        candidates=2,
        sample_steps=3,
        zero_shot_steps=3,
        epochs=1,
        batch_size=4,
        baselines=("cut-paste",),
        variants=("defectfill", "defectfill-no-lfs", "zero-shot", "no-attention-loss"),
    )
    result = run_experiment(config, progress=False)
    out = tmp_path / "exp"

    full = read_concept_card(out / "concepts" / "defectfill" / "hole" / "concept.safetensors")
    ablated = read_concept_card(out / "concepts" / "no-attention-loss" / "hole" / "concept.safetensors")
    assert full.training_config["attention_loss_weight"] == 0.05
    assert ablated.training_config["attention_loss_weight"] == 0.0
    assert ablated.training_config["defect_loss_weight"] == 0.5

    lfs = read_manifest(out / "generated" / "defectfill" / "manifest.jsonl")
    no_lfs = read_manifest(out / "generated" / "defectfill-no-lfs" / "manifest.jsonl")
    zero = read_manifest(out / "generated" / "zero-shot" / "hole" / "manifest.jsonl")
    assert Counter(r.defect_name for r in lfs + no_lfs + zero) == {"hole": 12}
    assert {len(r.scores) for r in lfs} == {2} and {len(r.scores) for r in no_lfs} <= {0, 1}
    assert {r.concept for r in zero} == {None}
    sample = tomllib.loads((out / "generated" / "zero-shot" / "hole" / "config.toml").read_text())
    # the zero-shot row is DIAG's sampler with an expert-style description, not a generic prompt
    assert sample["prompt"] == "a small dark round hole in the brick"
    assert (sample["guidance"], sample["steps"], sample["strength"]) == (20.0, 3, 0.99)
    assert sample["negative_prompt"] == "smooth, plain, black, dark, shadow"
    assert sample["padding_mask_crop"] == 2 and sample["candidates"] == 1

    # KID / IC-LPIPS for every row with defect images, none for a row without (there is no `real` row here)
    table = _report_table((out / "report.md").read_text())
    assert set(table) == {"cut-paste", "defectfill", "defectfill-no-lfs", "zero-shot", "no-attention-loss"}
    results = json.loads((out / "results.json").read_text())
    for setting, row in table.items():
        quality = result.quality[setting]
        assert row["KID ×10³"] == f"{quality.kid * 1e3:.3f}"
        assert row["IC-LPIPS"] == f"{quality.ic_lpips:.3f}"
        assert results["rows"][setting]["IC-LPIPS"] == pytest.approx(quality.ic_lpips)
        assert np.isfinite(quality.kid) and quality.ic_lpips >= 0
    assert "random ConvNet" in (out / "report.md").read_text()
