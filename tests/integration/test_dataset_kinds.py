"""One list of dataset kinds for every command, and one way to open them: every command's config accepts every
kind, and train, sample, review and inspect read the same examples from a dataset of each built-in kind and
from a plain folder."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from defect_core.builtin.datasets import BUILTIN_DATASETS, builtin_dataset_root
from defect_core.datasets import DATASET_KINDS, NORMALS_ROOT_KINDS
from defect_inspect import EvaluateConfig, InspectConfig
from defect_inspect.data.real import normal_items, open_real_dataset, real_defect_items
from defect_inspect.experiment import ExperimentConfig
from defect_sample import SampleConfig
from defect_sample.job_inputs import build_groups, resolve_normals
from defect_sample.review.config import ReviewConfig
from defect_sample.review.dataset_masks import DatasetMasks
from defect_train import TrainConfig
from defect_train.trainer import resolve_training_data

OBJECT, DEFECT = "brick", "hole"


def _configs(kind: str, root: Path | None, tmp: Path) -> list[object]:
    """One config of every command that takes a dataset, for ``kind``."""
    defects = (DEFECT,)
    return [
        TrainConfig(dataset=kind, root=root, object_name=OBJECT, defect_name=DEFECT),
        SampleConfig(
            out=tmp / "out",
            prompt="a hole",
            base_model="builtin:tiny",
            defect_name=DEFECT,
            dataset=kind,
            dataset_root=root,
            normals_root=tmp if kind in NORMALS_ROOT_KINDS else None,
            object_name=OBJECT,
            mask_split="held_out",
        ),
        ReviewConfig(
            normals=tmp,
            out=tmp / "review",
            base_model="builtin:tiny",
            dataset=kind,
            dataset_root=root,
            object_name=OBJECT,
        ),
        InspectConfig(
            train=(tmp,),
            out=tmp / "inspect",
            dataset=kind,
            dataset_root=root,
            object_name=OBJECT,
            defects=defects,
        ),
        EvaluateConfig(
            checkpoint=tmp / "model.safetensors",
            out=tmp / "evaluate",
            dataset=kind,
            dataset_root=root,
            object_name=OBJECT,
            defects=defects,
        ),
        ExperimentConfig(dataset=kind, dataset_root=root, object_name=OBJECT, defects=defects),
    ]


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_every_command_config_accepts_every_kind(kind: str, tmp_path: Path) -> None:
    root = None if kind in BUILTIN_DATASETS else tmp_path
    for config in _configs(kind, root, tmp_path):
        assert config.dataset == kind


def test_every_command_config_rejects_an_unknown_kind_and_a_missing_root(tmp_path: Path) -> None:
    for make in (
        lambda: TrainConfig(dataset="coco", root=tmp_path),
        lambda: SampleConfig(
            out=tmp_path,
            prompt="x",
            base_model="builtin:tiny",
            dataset="coco",
            dataset_root=tmp_path,
            object_name=OBJECT,
            mask_split="all",
        ),
        lambda: ReviewConfig(
            normals=tmp_path,
            out=tmp_path,
            base_model="builtin:tiny",
            dataset="coco",
            dataset_root=tmp_path,
            object_name=OBJECT,
        ),
        lambda: InspectConfig(train=(tmp_path,), out=tmp_path, dataset="coco", dataset_root=tmp_path),
        lambda: EvaluateConfig(checkpoint=tmp_path, out=tmp_path, dataset="coco", dataset_root=tmp_path),
        lambda: ExperimentConfig(dataset="coco", dataset_root=tmp_path),
    ):
        with pytest.raises(ValueError, match=r"dataset='coco'.*must be one of.*surface-strips"):
            make()
    with pytest.raises(ValueError, match="root"):
        TrainConfig(dataset="mvtec")
    with pytest.raises(ValueError, match="--dataset-root"):
        SampleConfig(
            out=tmp_path,
            prompt="x",
            base_model="builtin:tiny",
            dataset="mvtec",
            object_name=OBJECT,
            mask_split="all",
        )
    with pytest.raises(ValueError, match="--defects NAME"):  # a folder's one category must be named
        InspectConfig(
            train=(tmp_path,), out=tmp_path, dataset="folder", dataset_root=tmp_path, object_name=OBJECT
        )


def _folder_dataset(tmp_path: Path) -> Path:
    """The demo brick's holes as a plain folder: images/ + masks/ + good/."""
    demo = builtin_dataset_root("demo") / OBJECT
    folder = tmp_path / "my_holes"
    for sub in ("images", "masks", "good"):
        (folder / sub).mkdir(parents=True)
    for image in sorted((demo / "test" / DEFECT).glob("*.png")):
        shutil.copy(image, folder / "images" / image.name)
        shutil.copy(demo / "ground_truth" / DEFECT / f"{image.stem}_mask.png", folder / "masks" / image.name)
    for image in sorted((demo / "train" / "good").glob("*.png")):
        shutil.copy(image, folder / "good" / image.name)
    return folder


@pytest.mark.parametrize("kind", [*BUILTIN_DATASETS, "folder"])
def test_every_command_reads_the_same_examples(kind: str, tmp_path: Path) -> None:
    if kind == "folder":
        root = _folder_dataset(tmp_path)
        images, masks, good = root / "images", root / "masks", root / "good"
        mask_of = {p.name: masks / p.name for p in images.iterdir()}
    else:
        root = None
        base = builtin_dataset_root(kind) / OBJECT
        images, good = base / "test" / DEFECT, base / "train" / "good"
        mask_of = {p.name: base / "ground_truth" / DEFECT / f"{p.stem}_mask.png" for p in images.iterdir()}
    # the files on disk, listed here without any reader
    expected_pairs = [(images / name, mask_of[name]) for name in sorted(mask_of)]
    expected_normals = sorted(good.glob("*.png"))
    assert len(expected_pairs) >= 6 and expected_normals
    train, sample, review, inspect, evaluate, _ = _configs(kind, root, tmp_path)

    data = resolve_training_data(replace(train, split="all"))
    assert [(e.image, e.mask) for e in data.examples] == expected_pairs
    assert data.normals == expected_normals

    sample = replace(sample, mask_split="all")
    [group] = build_groups(sample, [])
    assert list(group.mask_paths) == [m for _, m in expected_pairs]
    assert resolve_normals(sample) == expected_normals

    masks = DatasetMasks(review.dataset, review.dataset_root, review.object_name, DEFECT)
    holes = [name for name in masks.names() if name.startswith(f"{DEFECT}/")]
    assert sorted(masks.path(name) for name in holes) == sorted(m for _, m in expected_pairs)

    for config in (inspect, evaluate):
        reader = open_real_dataset(config.dataset, config.dataset_root, OBJECT, config.defects)
        items = real_defect_items(reader, OBJECT, "all", config.defects)
        assert [(i.image, i.mask, i.label) for i in items] == [(im, m, DEFECT) for im, m in expected_pairs]
        assert [i.image for i in normal_items(reader, OBJECT, "train")] == expected_normals
