"""`defect-inspect experiment --dataset defect-spectrum --variants defectgen`: the experiment trains Defect-Gen on
the real first third itself and its images feed the multi-class segmenter rows, no `--defect-gen DIR` needed.
Tiny sizes (32 px, 2 steps per network): the images are noise; what is checked is where each row's data
come from and that the class table is the dataset's."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import torch
from class_label_helpers import BOTTLE, DS_FOLDERS, write_ds_tree

from defect_core.generator_card import read_generator_card
from defect_core.manifest import read_manifest
from defect_inspect.cli import main


def test_defect_spectrum_defect_gen_row_from_the_experiments_own_generator(tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    ds_root = write_ds_tree(tmp_path / "DS-MVTec")
    out = tmp_path / "experiment"
    flags = {
        "--dataset": "defect-spectrum",
        "--dataset-root": str(ds_root),
        "--object-name": "bottle",
        "--variants": "defectgen",
        "--defectgen-size": "cpu",
        "--defectgen-steps": "2",
        "--defectgen-resolution": "32",
        "--defectgen-sample-steps": "2",
        "--count": "2",
        "--tasks": "segmenter",
        "--segmenter": "unet",
        "--encoder": "resnet18",
        "--epochs": "1",
        "--batch-size": "4",
        "--resolution": "32",
        "--val-fraction": "0",
        "--out": str(out),
    }
    args = ["experiment", *(x for item in flags.items() for x in item), "--no-pretrained", "--quiet"]
    assert main(args) == 0, capsys.readouterr().err

    # the generator's classes are the object's published class table, learned from the first third
    card = read_generator_card(out / "defectgen" / "generator")
    assert card.classes == BOTTLE
    assert len(card.training["data"]["small"]) == 2 * len(DS_FOLDERS)  # 6 images per folder, first third

    # 2 per defect folder, 4 folders: 8 generated images, all with labels
    generated = out / "generated" / "defectgen"
    records = read_manifest(generated / "manifest.jsonl")
    assert len(records) == 8 and all(r.labels is not None for r in records)

    results = json.loads((out / "results.json").read_text())
    assert list(results["rows"]) == ["real", "defectgen", "defect-gen"]
    real_items = {name: 2 for name in DS_FOLDERS}
    for row, with_real in (("defectgen", False), ("defect-gen", True)):
        run = json.loads((out / "runs" / row / "segmenter" / "metrics.json").read_text())
        items = run["inputs"]["training_items"]
        # the generated items are typed by their largest class ("none": no defect pixel); 8 in all
        assert sum(items.values()) == 8 + (sum(real_items.values()) if with_real else 0)
        assert run["inputs"]["classes"] == ["background", *BOTTLE.values()]
        saved = tomllib.loads((out / "runs" / row / "segmenter" / "config.toml").read_text())
        assert [Path(p).resolve() for p in saved["train"]] == [generated.resolve()]
        assert saved["real_train"] == ("train" if with_real else "none")


def test_defectgen_images_without_a_defect_pixel_are_left_out(tmp_path: Path) -> None:
    from class_label_helpers import write_labelled_generation_output

    from defect_core.errors import InputFileError
    from defect_inspect.data.generated import read_generation_output

    out = tmp_path / "gen"
    write_labelled_generation_output(out, BOTTLE, [(1,), (1, 3)], defect_name="broken_large")
    # Defect-Gen names an image whose labels hold no defect class "none"; its mask is empty
    write_labelled_generation_output(out, BOTTLE, [()], defect_name="none")
    assert len(read_manifest(out / "manifest.jsonl")) == 3
    items = read_generation_output(out)
    assert [(i.image.name, i.label) for i in items] == [
        ("broken_large_00000.png", "broken_large"),
        ("broken_large_00001.png", "broken_large"),
    ]

    only_empty = write_labelled_generation_output(tmp_path / "empty", BOTTLE, [()], defect_name="none")
    with pytest.raises(InputFileError, match="holds no generated images"):
        read_generation_output(only_empty)
