"""DefectFill's VisA protocol end to end: train, sample and inspect all split a VisA object's anomalies into
its first 10 pairs (by file name) and the rest; the AnomalyDiffusion first-third rule stays available."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.datasets import create_reader
from defect_inspect.data.real import real_defect_items
from defect_sample.config import SampleConfig
from defect_sample.job_inputs import build_groups
from defect_train.config import TrainConfig
from defect_train.trainer import resolve_training_data

STEMS = [f"{i:03d}" for i in range(14)]


@pytest.fixture(scope="module")
def visa(tmp_path_factory) -> Path:
    """A VisA folder (``split_csv/1cls.csv`` layout) with 14 candle anomalies and two normal images."""
    root = tmp_path_factory.mktemp("visa")
    lines = ["object,split,label,image,mask"]
    rng = np.random.default_rng(0)
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 1  # VisA masks hold label values, not 255
    for stem in reversed(STEMS):
        image, mask_path = f"candle/Data/Images/Anomaly/{stem}.JPG", f"candle/Data/Masks/Anomaly/{stem}.png"
        for path in (root / image, root / mask_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / image)
        Image.fromarray(mask).save(root / mask_path)
        lines.append(f"candle,test,anomaly,{image},{mask_path}")
    for split, name in (("train", "0001.JPG"), ("test", "0002.JPG")):
        path = root / "candle" / "Data" / "Images" / "Normal" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
        lines.append(f"candle,{split},normal,candle/Data/Images/Normal/{name},")
    (root / "split_csv").mkdir()
    (root / "split_csv" / "1cls.csv").write_text("\n".join(lines) + "\n")
    return root


def _stems(paths) -> list[str]:
    return [Path(p).stem for p in paths]


@pytest.mark.parametrize(("rule", "n_train"), [("auto", 10), ("first-10", 10), ("first-third", 4)])
def test_train_sample_and_inspect_agree_on_the_split(visa, tmp_path, rule, n_train) -> None:
    train = resolve_training_data(
        TrainConfig(
            dataset="visa",
            root=visa,
            object_name="candle",
            defect_name="anomaly",
            split_rule=rule,
            output_dir=tmp_path / "run",
        )
    )
    assert _stems(e.image for e in train.examples) == STEMS[:n_train]
    assert _stems(e.image for e in train.held_out) == STEMS[n_train:]

    sample = SampleConfig(
        out=tmp_path / "gen",
        prompt="a photo of a defect",
        base_model="builtin:tiny",
        defect_name="anomaly",
        dataset="visa",
        dataset_root=visa,
        object_name="candle",
        mask_split="held_out",
        split_rule=rule,
    )
    (group,) = build_groups(sample, [])
    assert _stems(group.mask_paths) == STEMS[n_train:]

    reader = create_reader("visa", visa)
    assert (
        _stems(i.image for i in real_defect_items(reader, "candle", "train", split_rule=rule))
        == STEMS[:n_train]
    )
    assert (
        _stems(i.image for i in real_defect_items(reader, "candle", "held_out", split_rule=rule))
        == STEMS[n_train:]
    )
