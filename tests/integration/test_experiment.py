"""`defect-inspect experiment` on the demo data with builtin:texture: the whole protocol in one command.

concepts (defect-train) → generated defects on the held-out masks (defect-sample) → cut-paste baseline →
classifier and segmenter per training setting → test on the real held-out split → report.md / report.png.
Runs the command line with its demo preset, as a user would, on the CPU (about a minute on two cores).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from defect_core.manifest import read_manifest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _report_table(text: str) -> dict[str, dict[str, str]]:
    """The first Markdown table of the report: setting -> column -> cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| training data |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, body = rows[0], rows[2:]
    return {cells[0]: dict(zip(header[1:], cells[1:], strict=True)) for cells in body}


def test_experiment_on_the_demo_data(tmp_path: Path, capsys) -> None:
    from defect_inspect.cli import main

    out = tmp_path / "experiment"
    assert main(["experiment", "--out", str(out), "-q"]) == 0, capsys.readouterr().err
    assert str(out / "report.md") in capsys.readouterr().out

    config = tomllib.loads((out / "config.toml").read_text())
    assert config["base_model"] == "builtin:texture" and config["resolution"] == 64 and config["count"] == 16

    # one concept per defect type of the demo's brick, then 16 generated images per type on held-out masks
    for defect in ("hole", "scratch"):
        assert (out / "concepts" / "defectfill" / defect / "concept.safetensors").is_file()
    records = read_manifest(out / "generated" / "defectfill" / "manifest.jsonl")
    assert Counter(r.defect_name for r in records) == {"hole": 16, "scratch": 16}
    from defect_core.builtin.demo import ensure_demo_dataset
    from defect_core.datasets import create_reader
    from defect_core.datasets.splits import select_split

    reader = create_reader("mvtec", ensure_demo_dataset())
    held_out = {
        str(e.mask)
        for d in ("hole", "scratch")
        for e in select_split(reader.defect_examples("brick", d), "held_out")
    }
    assert {r.mask_source for r in records} <= held_out
    for defect in ("hole", "scratch"):
        assert len(list((out / "cut_paste" / defect / "defect").glob("*.png"))) == 16

    # every (setting, task) run tested on the real held-out two thirds: 6 + 6 defects (+ 3 good for the segmenter)
    runs = {}
    for setting in ("real", "cut-paste", "defectfill"):
        for task in ("classifier", "segmenter"):
            document = json.loads((out / "runs" / setting / task / "metrics.json").read_text())
            expected = {"hole": 6, "scratch": 6} | ({"good": 3} if task == "segmenter" else {})
            assert document["inputs"]["scored_items"] == expected, (setting, task)
            runs[(setting, task)] = document["results"]
    training = json.loads((out / "runs" / "defectfill" / "segmenter" / "metrics.json").read_text())["inputs"]
    assert set(training["training_items"]) == {"good", "hole", "scratch"}
    real = json.loads((out / "runs" / "real" / "classifier" / "metrics.json").read_text())["inputs"]
    assert real["training_items"] == {"hole": 3, "scratch": 3}  # the real training third only

    # the report's rows are the runs' numbers
    table = _report_table((out / "report.md").read_text())
    assert set(table) == {"real", "cut-paste", "defectfill"}
    for setting, row in table.items():
        assert row["pixel AUROC"] == f"{runs[(setting, 'segmenter')]['localization']['pixel_auroc']:.3f}"
        assert row["mIoU"] == f"{runs[(setting, 'segmenter')]['segmentation']['miou']:.3f}"
        assert row["cls accuracy"] == f"{runs[(setting, 'classifier')]['classification']['accuracy']:.3f}"
        for value in row.values():
            assert re.fullmatch(r"\d\.\d{3}", value), row
    with Image.open(out / "report.png") as image:
        assert image.size[0] >= 640 and image.size[1] >= 400
    assert (out / "report" / "report.md").is_file() and (out / "report" / "pixel_roc.png").is_file()
