"""A Defect-Gen output folder as the ``--masks`` of a DefectFill job: the binary union by default, one class
with ``--mask-class``, and a named error for a class the folder does not have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sample_helpers import box_mask

from defect_core.errors import InputFileError
from defect_core.images import load_mask
from defect_core.manifest import read_manifest
from defect_core.output_layout import GenerationWriter
from defect_core.sample_record import SampleRecord
from defect_sample.cli import main
from defect_sample.config import SampleConfig
from defect_sample.generate import run_generation
from defect_sample.generated_masks import generation_class_id, generation_output_masks

CLASSES = {1: "crack", 2: "hole"}
FAST = dict(steps=2, candidates=1, select="none", device="cpu", dtype="float32")


def labels_of(item: int) -> np.ndarray:
    """Hand-made 64 px label images: item 0 has a crack box and a hole box, item 1 only a hole, item 2 nothing."""
    labels = np.zeros((64, 64), np.uint8)
    if item == 0:
        labels[box_mask(8, 8, 20, 30)] = 1
        labels[box_mask(40, 36, 56, 60)] = 2
    elif item == 1:
        labels[box_mask(10, 30, 40, 50)] = 2
    return labels


@pytest.fixture
def defectgen_out(tmp_path: Path) -> Path:
    """An output folder in the layout ``defect-sample defectgen`` writes (through the same writer)."""
    writer = GenerationWriter(tmp_path / "defectgen_out")
    for j in range(3):
        labels = labels_of(j)
        record = SampleRecord(
            item_id=f"bottle_{j:05d}",
            image=Path(),
            mask=Path(),
            source_image=tmp_path / "generator",
            mask_source="defectgen",
            defect_name="crack",
            seed=j,
            base_model=str(tmp_path / "generator"),
            concept="defectgen:bottle",
            selection_metric="none",
            classes=CLASSES,
        )
        image = Image.fromarray(np.full((64, 64, 3), 90, np.uint8))
        writer.write_item(record, image, labels > 0, labels=labels)
    return writer.out_dir


def test_the_folder_gives_its_union_masks_or_one_class(defectgen_out: Path):
    union = generation_output_masks(defectgen_out)
    # item 2 has no defect pixel: left out
    assert [p.parent.name + "/" + p.name for p in union] == ["mask/bottle_00000.png", "mask/bottle_00001.png"]
    hole = generation_class_id(defectgen_out, "hole")
    crack = generation_class_id(defectgen_out, "crack")
    assert (crack, hole) == (1, 2)
    assert [p.name for p in generation_output_masks(defectgen_out, hole)] == [
        "bottle_00000.png",
        "bottle_00001.png",
    ]
    assert [p.name for p in generation_output_masks(defectgen_out, crack)] == ["bottle_00000.png"]
    with pytest.raises(
        InputFileError, match="'scratch' is not in this folder's class table \\(crack, hole\\)"
    ) as info:
        generation_class_id(defectgen_out, "scratch")
    assert info.value.path == defectgen_out


@pytest.mark.parametrize(
    ("mask_class", "expected"),
    [(None, {0: labels_of(0) > 0, 1: labels_of(1) > 0}), ("crack", {0: labels_of(0) == 1})],
)
def test_defectfill_fills_the_learned_masks(
    tmp_path, tiny_defectfill, concept_files, normals_dir, defectgen_out, mask_class, expected
):
    config = SampleConfig(
        out=tmp_path / "filled",
        concept=(concept_files["crack"],),
        normals=normals_dir,
        masks=defectgen_out,
        mask_class=mask_class,
        count=4,
        **FAST,
    )
    run_generation(config, pipeline=tiny_defectfill, progress=False)
    records = read_manifest(config.out / "manifest.jsonl")
    assert len(records) == 4
    used = set()
    for r in records:
        j = int(Path(r.mask_source).stem.split("_")[-1])
        used.add(j)
        # normals and generated masks are both 64 px: the mask written is the learned one, pixel for pixel
        np.testing.assert_array_equal(load_mask(r.mask), expected[j])
    assert used == set(expected)


def test_cli_names_an_unknown_class_and_a_mask_class_without_masks(
    tmp_path, concept_files, normals_dir, defectgen_out, capsys
):
    argv = [
        "--concept",
        str(concept_files["crack"]),
        "--normals",
        str(normals_dir),
        "--out",
        str(tmp_path / "o"),
    ]
    code = main([*argv, "--masks", str(defectgen_out), "--mask-class", "scratch", "--device", "cpu", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{defectgen_out}: class 'scratch' is not in this folder's class table (crack, hole)" in err
    with pytest.raises(SystemExit):
        main([*argv, "--shapes", "ellipse", "--mask-class", "crack"])
    err = capsys.readouterr().err
    assert "SampleConfig.mask_class='crack'" in err and "it needs --masks" in err


def test_mask_class_on_a_plain_mask_folder_is_a_named_error(tmp_path, normals_dir, masks_dir):
    config = SampleConfig(
        out=tmp_path / "o",
        prompt="a crack",
        base_model="builtin:tiny",
        normals=normals_dir,
        masks=masks_dir,
        mask_class="crack",
        **FAST,
    )
    from defect_sample.job_inputs import build_groups

    with pytest.raises(InputFileError, match="needs a generation output folder") as info:
        build_groups(config, [])
    assert info.value.path == masks_dir
