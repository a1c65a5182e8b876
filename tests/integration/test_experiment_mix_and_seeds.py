"""`defect-inspect experiment --seeds 0 1` with the rows real+cut-paste and real+defectfill, run small on
builtin:tiny: the mixed rows train on the real training third plus as many synthetic images per type (1:1)
taken from their synthetic row (made even when that row is not reported), each seed is a whole run in its own
folder, and the aggregate report's cells are the mean ± standard deviation of the seeds' own results."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from test_experiment import _report_table

from defect_core.manifest import read_manifest
from defect_inspect.experiment import ExperimentConfig, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mixed_rows_over_two_seeds(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    config = ExperimentConfig.surface_strips(
        out=out,
        base_model="builtin:tiny",
        defects=("hole",),
        concept_steps=2,
        count=14,
        candidates=1,
        select="none",
        sample_steps=2,
        epochs=1,
        batch_size=8,
        val_fraction=0.0,
        synthetic_metrics="off",
        baselines=("real", "real+cut-paste"),
        variants=("real+defectfill",),
        seeds=(0, 1),
    )
    result = run_experiment(config, progress=False)
    assert result.report == out / "report.md" and set(result.per_seed) == {0, 1}

    for seed in (0, 1):
        run = out / f"seed-{seed}"
        # the synthetic rows behind the mixes were made although they are not rows of the report
        generated = read_manifest(run / "generated" / "defectfill" / "manifest.jsonl")
        assert len(generated) == 14 and (run / "cut_paste" / "hole").is_dir()
        assert set(_report_table((run / "report.md").read_text())) == {
            "real",
            "real+cut-paste",
            "real+defectfill",
        }
        for row, source in (("real+defectfill", "generated"), ("real+cut-paste", "cut-paste")):
            metrics = json.loads((run / "runs" / row / "segmenter" / "metrics.json").read_text())
            counts = metrics["inputs"]["training_items"]
            # surface-strips has 10 real training holes: 10 of the 14 synthetic ones join them
            assert counts["hole"] == 20, counts
            assert metrics["inputs"]["training_sources"] == {source: 10, "real": 10}
        real = json.loads((run / "runs" / "real" / "segmenter" / "metrics.json").read_text())
        assert real["inputs"]["training_items"]["hole"] == 10

    # the aggregate: each cell is the mean ± sample sd of the two seeds' results.json values
    per_seed = [json.loads((out / f"seed-{s}" / "results.json").read_text())["rows"] for s in (0, 1)]
    results = json.loads((out / "results.json").read_text())
    table = _report_table((out / "report.md").read_text())
    assert results["seeds"] == [0, 1] and set(table) == {"real", "real+cut-paste", "real+defectfill"}
    for row in table:
        values = [per_seed[0][row]["pixel AP"], per_seed[1][row]["pixel AP"]]
        cell = results["rows"][row]["pixel AP"]
        assert cell["values"] == values
        assert cell["mean"] == pytest.approx(statistics.mean(values))
        assert cell["std"] == pytest.approx(statistics.stdev(values))
        assert table[row]["pixel AP"] == f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
    text = (out / "report.md").read_text()
    assert "real+defectfill vs real: pixel AP" in text and (out / "report.png").is_file()
    # a second call reuses every finished seed (nothing retrained) and writes the same aggregate
    stamps = {s: (out / f"seed-{s}" / "results.json").stat().st_mtime_ns for s in (0, 1)}
    again = run_experiment(config, progress=False)
    assert again.per_seed == {} and json.loads((out / "results.json").read_text())["rows"] == results["rows"]
    assert {s: (out / f"seed-{s}" / "results.json").stat().st_mtime_ns for s in (0, 1)} == stamps
