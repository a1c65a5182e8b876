"""``defect-sample export``: dispatched like ``review``, a thin layer over defect_core.exports; writes its
resolved config into the export; input errors exit 1 naming the file, bad flags exit 2."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord
from defect_sample.cli import main


def generation_output(tmp_path: Path) -> Path:
    """One generated item with two classes: a 2 x 3 crack and a one-pixel stain, in a 10 x 12 image."""
    out = tmp_path / "synth"
    normal = tmp_path / "good.png"
    Image.new("RGB", (12, 10), (90, 90, 90)).save(normal)
    labels = np.zeros((10, 12), dtype=np.uint8)
    labels[1:3, 2:5] = 1
    labels[7, 9] = 2
    record = SampleRecord(
        item_id="tile_00000",
        image=Path("pending.png"),
        mask=Path("pending_mask.png"),
        source_image=normal,
        mask_source="hand",
        defect_name="mixed",
        seed=0,
        base_model="builtin:tiny",
        concept="tile/mixed",
        classes={1: "crack", 2: "stain"},
    )
    GenerationWriter(out).write_item(record, Image.new("RGB", (12, 10)), labels > 0, labels=labels)
    return out


def test_export_subcommand_writes_coco_and_its_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = generation_output(tmp_path)
    out = tmp_path / "coco"
    assert main(["export", "--format", "coco", str(source), "--out", str(out), "-q"]) == 0
    assert (
        "coco: 1 image(s), 2 annotation(s), 0 defect-free image(s), classes 1=crack, 2=stain"
        in capsys.readouterr().out
    )
    document = json.loads((out / "annotations.json").read_text())
    assert [(a["category_id"], a["area"], a["bbox"]) for a in document["annotations"]] == [
        (1, 6, [2, 1, 3, 2]),
        (2, 1, [9, 7, 1, 1]),
    ]
    config = tomllib.loads((out / "export_config.toml").read_text())
    assert config == {
        "format": "coco",
        "source": str(source),
        "out": str(out),
        "defects": [],
        "normals": True,
        "overwrite": False,
    }


def test_export_subcommand_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["export", "--format", "yolo-seg", str(tmp_path), "--out", str(out)]) == 1
    assert f"{tmp_path}: is no generation output folder: it has no manifest.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--format", "voc", str(tmp_path), "--out", str(out)])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(tmp_path), "--out", str(out), "--defects", "a,b"])
    assert exit_info.value.code == 2
    assert "defects=('a', 'b'): is for a dataset source (--dataset)" in capsys.readouterr().err
    assert not out.exists()
