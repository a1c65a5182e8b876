"""`defect-inspect experiment --variants defectgen`: Defect-Gen trained on the real training third by the experiment,
sampled, and used as the training set of two rows (generated only: ``defectgen``; real third + generated:
``defect-gen``), on the demo data at tiny sizes (32 px, 2 steps per network) so that it takes seconds.

The images of two training steps are noise; what is checked is that each row is made the way its name says.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from test_experiment import _report_table

from defect_core.builtin.demo import ensure_demo_dataset
from defect_core.datasets import create_reader
from defect_core.datasets.splits import select_split
from defect_core.generator_card import read_generator_card
from defect_core.manifest import read_manifest
from defect_inspect.experiment import ExperimentConfig, run_experiment
from defect_inspect.experiment.defectgen_row import train_defectgen_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_defectgen_rows_train_on_the_generators_own_images(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    config = ExperimentConfig.demo(
        out=out,
        baselines=("real",),
        variants=("defectgen",),
        tasks=("segmenter",),
        count=3,
        epochs=1,
        defectgen_steps=2,
        defectgen_resolution=32,
        defectgen_sample_steps=2,
        sample_batch_size=6,
    )
    assert config.settings == ("real", "defectgen", "defect-gen")
    result = run_experiment(config, progress=False)

    # the generator learned from the same first third of each type as the concepts would (5 / 50 cap)
    generator = out / "defectgen" / "generator"
    card = read_generator_card(generator)
    reader = create_reader("mvtec", ensure_demo_dataset())
    third = {
        d: [e.image for e in select_split(reader.defect_examples("brick", d), "train")]
        for d in ("hole", "scratch")
    }
    data = card.training["data"]
    root = Path(data["root"])
    assert sorted(root / p for p in data["small"]) == sorted(p for d in third for p in third[d][:50])
    assert sorted(root / p for p in data["large"]) == sorted(p for d in third for p in third[d][:5])
    assert card.training["steps"] == {"large": 2, "small": 2}
    assert (card.size, card.resolution, card.switch_step) == ("cpu", 32, 400)

    # count per type, two types: 6 images with masks and labels, all from this generator
    records = read_manifest(out / "generated" / "defectgen" / "manifest.jsonl")
    assert len(records) == 6
    assert {r.mask_source for r in records} == {"defectgen"} and {r.concept for r in records} == {
        card.generator_id
    }
    assert all(r.labels is not None and r.labels.is_file() for r in records)

    # generated only vs. real third + the same images; the real row sees no generated folder
    runs = {
        setting: tomllib.loads((out / "runs" / setting / "segmenter" / "config.toml").read_text())
        for setting in config.settings
    }
    generated = str((out / "generated" / "defectgen").resolve())
    assert [str(Path(p).resolve()) for p in runs["defectgen"]["train"]] == [generated]
    assert [str(Path(p).resolve()) for p in runs["defect-gen"]["train"]] == [generated]
    assert runs["real"]["train"] == []
    assert [runs[s]["real_train"] for s in config.settings] == ["train", "none", "train"]
    assert set(_report_table(result.report.read_text())) == {"real", "defectgen", "defect-gen"}
    assert "cpu pair at 32 px, 2 steps per network" in result.report.read_text()

    # a second run with the same settings reuses the generator; other settings retrain it
    weights = sorted(generator.rglob("*.safetensors"))
    stamps = [p.stat().st_mtime_ns for p in weights]
    assert train_defectgen_generator(config) == generator
    assert [p.stat().st_mtime_ns for p in weights] == stamps
