"""The experiment rows for our two sampling assumptions: ``defectfill-object-prompt`` samples the defectfill
concepts with DefectFill's object-branch prompt, ``defectfill-guidance`` with classifier-free guidance 7.5,
and both go through the experiment's plan (concepts, generation, report row). builtin:tiny, seconds."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from test_experiment import _report_table

from defect_core.manifest import read_manifest
from defect_inspect.experiment import ExperimentConfig, concept_set, generate_defects, train_concepts
from defect_inspect.experiment.report import write_experiment_report

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_prompt_and_guidance_rows_are_made_as_named(tmp_path: Path) -> None:
    """The experiment's plan for the rows, step by step as ``run_experiment`` runs it (the inspection models
    that follow are the same for every row and are left out to keep this fast)."""
    variants = ("defectfill", "defectfill-object-prompt", "defectfill-guidance")
    config = ExperimentConfig.surface_strips(
        out=tmp_path / "exp",
        base_model="builtin:tiny",
        defects=("hole",),
        concept_steps=1,
        count=2,
        candidates=1,
        select="none",
        sample_steps=2,
        baselines=(),
        tasks=("segmenter",),
        variants=variants,
        synthetic_metrics="off",
    )
    assert config.settings == variants
    # one set of concepts serves the three rows
    assert {concept_set(v) for v in variants} == {"defectfill"}
    concepts = train_concepts(config, ["hole"])
    rows = {
        v: read_manifest(generate_defects(config, v, concepts, progress=False) / "manifest.jsonl")
        for v in variants
    }
    assert {len(r) for r in rows.values()} == {2}
    assert {(r.sampler["prompt"], r.sampler["guidance_scale"]) for r in rows["defectfill"]} == {
        ("A photo of sks", 1.0)
    }
    assert {(r.sampler["prompt"], r.sampler["guidance_scale"]) for r in rows["defectfill-object-prompt"]} == {
        ("A brick with sks", 1.0)
    }
    assert {(r.sampler["prompt"], r.sampler["guidance_scale"]) for r in rows["defectfill-guidance"]} == {
        ("A photo of sks", 7.5)
    }
    saved = tomllib.loads((config.out / "generated" / "defectfill-guidance" / "config.toml").read_text())
    assert saved["guidance"] == 7.5

    report, _ = write_experiment_report(config, ["hole"], {}, {})
    text = report.read_text()
    assert set(_report_table(text)) == set(variants)
    assert '"A {object} with {token}"' in text and "classifier-free guidance 7.5" in text
    assert "our assumptions" in text and "average-pooled" in text and "first-third split" in text


def test_sampling_variants_are_checked() -> None:
    with pytest.raises(ValueError, match="variant_guidance.*must be > 1"):
        ExperimentConfig(variant_guidance=1.0)
    with pytest.raises(ValueError, match="object_prompt.*must contain"):
        ExperimentConfig(object_prompt="A {object} with a defect")
