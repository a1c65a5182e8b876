"""`defect-inspect experiment --protocol diag` end to end on a small KSDD2-shaped fixture: DIAG's images from
its two prompts (zero-shot, defect-sample's diag preset), a DefectFill concept, cut-paste, DIAG's detector on
each row tested on the official test split, FID of each synthetic set against the real test defects.

Random-weight models, tiny images, one epoch: what is checked is that each row is made the way its name says
and that the table holds the measured values, not the numbers themselves.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from test_experiment import _report_table

from defect_core.manifest import read_manifest
from ksdd2_fixture import write_ksdd2

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIAG_BASE = "builtin:tiny-xl"  # the zero-shot base model of DIAG's rows: SDXL inpainting, random weights


def test_diag_defaults_are_the_published_ones() -> None:
    from defect_inspect.experiment import DIAG_ROWS, ExperimentConfig
    from defect_inspect.experiment.diag import detector_config, diag_sample_settings

    config = ExperimentConfig.diag(dataset_root=Path("."))
    assert config.settings == DIAG_ROWS == ("baseline", "zero-shot", "full-shot", "defectfill", "cut-paste")
    assert (config.dataset, config.object_name, config.count) == ("ksdd2", "ksdd2", 100)
    sample = diag_sample_settings(config, config.diag_prompts[0], "defect")
    assert {k: sample[k] for k in sample if k not in ("dataset_root", "batch_size", "device")} == {
        "preset": "diag",
        "prompt": "white marks on the wall",
        "negative_prompt": "smooth, plain, black, dark, shadow",
        "base_model": "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
        "defect_name": "defect",
        "dataset": "ksdd2",
        "object_name": "ksdd2",
        "normal_split": "train",
        "mask_split": "all",  # every train positive's mask
        "split_rule": "auto",
        "count": 50,
        "candidates": 1,
        "select": "none",
        "steps": 30,
        "guidance": 20.0,
        "strength": 0.99,
        "padding_mask_crop": 2,
        "working_size": (1024, 1024),
        "output_size": (224, 632),
        "seed": 0,
    }
    assert config.diag_prompts == ("white marks on the wall", "copper metal scratches")
    detector = detector_config(config, "zero-shot", (Path("g"),))
    assert (detector.preset, detector.model, detector.input_size) == (
        "diag",
        "torchvision/resnet50.IMAGENET1K_V1",
        (704, 256),
    )
    assert (detector.batch_size, detector.epochs, detector.val_fraction, detector.optimizer) == (
        32,
        30,
        0.0,
        "adam",
    )
    assert (detector.real_train, detector.test_split) == ("none", "test")
    assert detector_config(config, "full-shot", ()).real_train == "all"
    with pytest.raises(ValueError, match="official test split of a dataset that ships one"):
        ExperimentConfig.diag(dataset="demo")


def test_diag_protocol_end_to_end(tmp_path: Path, capsys) -> None:
    from defect_inspect.cli import main
    from defect_inspect.synthetic_quality import FeatureNetwork
    from defect_metrics import fid

    root = write_ksdd2(tmp_path / "KolektorSDD2")
    out = tmp_path / "diag"
    argv = [
        "experiment",
        "--protocol",
        "diag",
        "--dataset-root",
        str(root),
        "--out",
        str(out),
        "--diag-base-model",
        DIAG_BASE,
        "--diag-count",
        "2",
        "--diag-steps",
        "2",
        "--diag-working-size",
        "32",
        "64",
        "--diag-output-size",
        "24",
        "64",
        "--base-model",
        "builtin:tiny",
        "--concept-steps",
        "1",
        "--concept-resolution",
        "64",
        "--concept-batch-size",
        "1",
        "--count",
        "3",
        "--candidates",
        "1",
        "--select",
        "none",
        "--sample-steps",
        "2",
        "--detector",
        "test_efficientnet",
        "--detector-input-size",
        "64",
        "32",
        "--no-pretrained",
        "--epochs",
        "1",
        "--synthetic-metrics",
        "random-network",
        "--device",
        "cpu",
        "-q",
    ]
    assert main(argv) == 0, capsys.readouterr().err

    # DIAG's images: one zero-shot run per prompt, DIAG's sampler settings, train-positive masks on train negatives
    train = root / "train"
    positives = {str(train / f"{n}_GT.png") for n in range(10300, 10306)}
    negatives = {str(train / f"{n}.png") for n in range(10306, 10316)}
    for prompt, folder in (
        ("white marks on the wall", "white-marks-on-the-wall"),
        ("copper metal scratches", "copper-metal-scratches"),
    ):
        saved = tomllib.loads((out / "generated" / "diag" / folder / "config.toml").read_text())
        assert saved["prompt"] == prompt and saved["base_model"] == DIAG_BASE
        assert (saved["guidance"], saved["strength"], saved["padding_mask_crop"]) == (20.0, 0.99, 2)
        assert saved["negative_prompt"] == "smooth, plain, black, dark, shadow"
        records = read_manifest(out / "generated" / "diag" / folder / "manifest.jsonl")
        assert len(records) == 2 and {r.concept for r in records} == {None}
        assert {r.mask_source for r in records} <= positives
        assert {str(r.source_image) for r in records} <= negatives

    # each row's training data is what its name says; every row tests on the official test/ folder
    runs = out / "runs"
    inputs = {
        row: json.loads((runs / row / "detector" / "metrics.json").read_text())["inputs"]
        for row in ("baseline", "zero-shot", "full-shot", "defectfill", "cut-paste")
    }
    assert inputs["baseline"]["training_items"] == {"defect": 6, "good": 10}  # the duplicate copy skipped
    assert inputs["zero-shot"]["training_items"] == {
        "defect": 4,
        "good": 10,
    }  # 2 prompts x 2, no real positive
    assert inputs["full-shot"]["training_items"] == {"defect": 10, "good": 10}
    assert inputs["defectfill"]["training_items"] == {"defect": 9, "good": 10}
    assert inputs["cut-paste"]["training_items"] == {"defect": 9, "good": 10}
    assert {json.dumps(i["scored_items"]) for i in inputs.values()} == {json.dumps({"defect": 3, "good": 5})}

    # the table holds the measured values: the last epoch's metrics.csv row, FID of each synthetic set
    table = _report_table((out / "report.md").read_text())
    assert list(table) == ["baseline", "zero-shot", "full-shot", "defectfill", "cut-paste"]
    for row, cells in table.items():
        last = list(csv.DictReader((runs / row / "detector" / "metrics.csv").open()))[-1]
        assert cells["AP"] == f"{float(last['ap']):.3f}"
        assert cells["ROC-AUC"] == f"{float(last['auroc']):.3f}"
        assert cells["recall @ best F1"] == f"{float(last['recall']):.3f}"
    network = FeatureNetwork.load("random-network")
    real = network.features([root / "test" / f"{n}.png" for n in (20000, 20001, 20002)])
    diag_images = sorted((out / "generated" / "diag").glob("*/defect/*.png"))
    assert len(diag_images) == 4
    assert (
        table["zero-shot"]["FID"]
        == table["full-shot"]["FID"]
        == f"{fid(real, network.features(diag_images)):.2f}"
    )
    cut_paste = sorted((out / "cut_paste" / "diag" / "defect" / "defect").glob("*.png"))
    assert table["cut-paste"]["FID"] == f"{fid(real, network.features(cut_paste)):.2f}"
    assert table["baseline"]["FID"] == "n/a" and table["defectfill"]["FID"] != "n/a"
    results = json.loads((out / "results.json").read_text())
    assert Counter(len(v) for v in results["epochs"].values()) == {1: 5}
    assert (out / "report.png").is_file() and (runs / "zero-shot" / "detector" / "metrics.png").is_file()
