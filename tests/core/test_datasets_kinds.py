"""Opening a dataset by kind: one list of kinds (the built-in datasets and every reader), one function."""

from __future__ import annotations

from pathlib import Path

import pytest

from defect_core.builtin.datasets import BUILTIN_DATASETS, builtin_dataset_root
from defect_core.datasets import DATASET_KINDS, FolderReader, MVTecReader, available_readers, open_dataset

OBJECT = "brick"


def test_the_kinds_are_the_built_in_datasets_and_every_reader() -> None:
    assert set(DATASET_KINDS) == {
        "demo",
        "surface-strips",
        "defect-spectrum",
        "folder",
        "ksdd2",
        "mvtec",
        "visa",
    }
    assert set(DATASET_KINDS) == set(BUILTIN_DATASETS) | set(available_readers())


@pytest.mark.parametrize("kind", sorted(BUILTIN_DATASETS))
def test_a_built_in_dataset_opens_as_the_mvtec_folder_in_the_cache(kind: str) -> None:
    reader = open_dataset(kind)
    assert isinstance(reader, MVTecReader) and reader.root == builtin_dataset_root(kind)
    folder = reader.root / OBJECT / "test" / "hole"
    assert [e.image for e in reader.defect_examples(OBJECT, "hole")] == sorted(folder.glob("*.png"))


def test_a_folder_takes_the_names_the_caller_gives(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    reader = open_dataset("folder", tmp_path, object_name="tile", defect_name="crack", mask_threshold=1)
    assert isinstance(reader, FolderReader) and reader.mask_threshold == 1
    assert reader.object_names() == ["tile"] and reader.defect_names("tile") == ["crack"]
    # the other kinds name their own object and defect: the caller's names are not used
    (tmp_path / "tile" / "train" / "good").mkdir(parents=True)
    assert open_dataset("mvtec", tmp_path, object_name="x", defect_name="y").object_names() == ["tile"]


def test_open_dataset_names_what_is_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown dataset kind 'coco'; available: demo, surface-strips, defect-spectrum, folder",
    ):
        open_dataset("coco", tmp_path)
    with pytest.raises(ValueError, match="'mvtec' needs its root folder"):
        open_dataset("mvtec")
    with pytest.raises(ValueError, match=r"give defect_name \(.*my_holes\)"):
        open_dataset("folder", tmp_path / "my_holes", object_name=OBJECT)
    with pytest.raises(ValueError, match="give object_name and defect_name"):
        open_dataset("folder", tmp_path)
    with pytest.raises(ValueError, match="takes no reader options"):
        open_dataset("demo", mask_threshold=1)
    reader = open_dataset("demo", tmp_path)  # a root given with a built-in dataset is ignored, with a warning
    assert reader.root == builtin_dataset_root("demo") and "ignoring the dataset root" in caplog.text
