"""Evaluation and prediction: the metrics are exactly defect-metrics' on the files written, and agree with
independent references (scikit-learn, the dataset's own masks)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from inspect_helpers import tiny_config
from sklearn.metrics import accuracy_score, average_precision_score, confusion_matrix, roc_auc_score

from defect_core.datasets import open_dataset
from defect_core.datasets.splits import select_split
from defect_core.errors import InputFileError
from defect_core.images import load_mask
from defect_inspect import EvaluateConfig, PredictConfig, evaluate, predict, train_inspection_model
from defect_metrics import load_anomaly_map, localization_metrics, segmentation_metrics


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, demo_root: Path) -> dict[str, Path]:
    """Briefly trained models on the demo data's real training third (brick: hole, scratch)."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for task, extra in (
        ("segmenter", {}),
        ("classifier", {}),
        ("detector", {}),
        ("multiclass", {"multiclass": True}),
    ):
        kind = "segmenter" if task == "multiclass" else task
        config = tiny_config(
            out / task,
            kind,
            real_train=True,
            dataset="demo",
            epochs=1,
            val_fraction=0.0,
            test_split="none",
            **extra,
        )
        paths[task] = train_inspection_model(config, progress=False).checkpoint
    return paths


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_segmenter_evaluation_is_defect_metrics_on_the_written_maps(
    tmp_path: Path, checkpoints, demo_root
) -> None:
    result = evaluate(
        EvaluateConfig(
            checkpoint=checkpoints["segmenter"], dataset="demo", out=tmp_path / "eval", image_score="max"
        )
    )
    document = json.loads(result.metrics_file.read_text())
    out = result.out_dir
    maps_files = sorted((out / "maps").glob("*.npy"))
    assert len(maps_files) == 12 + 3  # brick: 6 held-out holes, 6 held-out scratches, 3 test/good
    maps = [load_anomaly_map(p) for p in maps_files]
    masks = [load_mask(out / "masks" / f"{p.stem}.png") for p in maps_files]
    assert {m.shape for m in maps} == {(128, 128)}  # the images' own size, not the model's 32 px
    assert all(m.min() >= 0.0 and m.max() <= 1.0 for m in maps)

    assert document["results"]["localization"] == {
        **localization_metrics(maps, masks).scalars(),
        "image_score": "max of the map at the image's size",
    }
    assert document["settings"]["image_score"] == "max"
    predictions = [load_mask(out / "predictions" / f"{p.stem}.png") for p in maps_files]
    for prediction, amap in zip(predictions, maps, strict=True):
        np.testing.assert_array_equal(prediction, amap >= 0.5)
    expected = segmentation_metrics(
        [p.astype(int) for p in predictions],
        [m.astype(int) for m in masks],
        2,
        class_names=["background", "defect"],
    )
    assert document["results"]["segmentation"] == json.loads(json.dumps(expected.as_dict()))

    # the masks written are the dataset's held-out masks, read here straight from the dataset
    reader = open_dataset("demo", None)
    for defect in ("hole", "scratch"):
        for example in select_split(reader.defect_examples("brick", defect), "held_out"):
            np.testing.assert_array_equal(
                load_mask(out / "masks" / f"{defect}_{example.image.stem}.png"), example.load_mask()
            )

    # and defect-metrics' own command line on the same folders says the same
    from defect_metrics.cli import main as metrics_main

    assert (
        metrics_main(
            [
                "localization",
                "--maps",
                str(out / "maps"),
                "--masks",
                str(out / "masks"),
                "--output",
                str(tmp_path / "cli.json"),
            ]
        )
        == 0
    )
    cli_results = json.loads((tmp_path / "cli.json").read_text())["results"]
    ours = {
        k: v
        for k, v in document["results"]["localization"].items()
        if k not in ("fpr_limit", "smoothing", "smoothing_border", "image_score")
    }
    assert cli_results == ours
    assert (out / "predictions.png").is_file() and (out / "config.toml").is_file()


def _avg_pool_max(amap: np.ndarray, size: int = 21) -> float:
    """max of avg_pool2d(amap, size, stride=1, padding=size // 2) (zeros outside counted), as a numpy loop."""
    half, (height, width) = size // 2, amap.shape
    return max(
        float(amap[max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1].astype(np.float64).sum())
        / size**2
        for y in range(height)
        for x in range(width)
    )


def test_segmenter_image_score_is_the_pooled_max_at_the_model_resolution(tmp_path: Path, checkpoints) -> None:
    """The default image score: AnomalyDiffusion's max of a 21 x 21 average pool (zero padding counted) over
    the model's own 32 x 32 output, checked by hand from the model run again here."""
    import torch
    import torch.nn.functional as F

    from defect_inspect.evaluation.inference import run_inference
    from defect_inspect.training.checkpoint import load_checkpoint

    result = evaluate(
        EvaluateConfig(checkpoint=checkpoints["segmenter"], dataset="demo", out=tmp_path / "eval")
    )
    document = json.loads(result.metrics_file.read_text())
    assert document["settings"]["image_score"] == "pooled"
    localization = document["results"]["localization"]
    assert (localization["smoothing"], localization["smoothing_border"]) == (21, "zero")
    assert "21x21 average-pooled" in localization["image_score"]

    rows = _read_csv(result.out_dir / "image_scores.csv")
    model, info = load_checkpoint(checkpoints["segmenter"], torch.device("cpu"))
    inference = run_inference(
        model, info, [Path(r["image"]) for r in rows], device=torch.device("cpu"), mixed_precision=False
    )
    for row, own, full in zip(rows, inference.model_maps, inference.maps, strict=True):
        assert own.shape == (info.resolution, info.resolution) == (32, 32)
        # the model-resolution map is the one the written full-size map was resized from
        resized = F.interpolate(
            torch.from_numpy(own)[None, None], size=full.shape, mode="bilinear", align_corners=False
        )[0, 0].numpy()
        np.testing.assert_allclose(resized, full, atol=1e-6)
        assert float(row["score"]) == pytest.approx(_avg_pool_max(own), abs=1e-6)
    labels = [int(r["defective"]) for r in rows]
    scores = [float(r["score"]) for r in rows]
    assert localization["image_auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert localization["image_ap"] == pytest.approx(average_precision_score(labels, scores), abs=1e-6)


def test_multiclass_segmenter_evaluation_writes_label_maps(tmp_path: Path, checkpoints) -> None:
    result = evaluate(
        EvaluateConfig(checkpoint=checkpoints["multiclass"], dataset="demo", out=tmp_path / "eval")
    )
    out = result.out_dir
    stems = sorted(p.stem for p in (out / "targets").glob("*.png"))
    from PIL import Image

    targets = [np.asarray(Image.open(out / "targets" / f"{s}.png")).astype(int) for s in stems]
    predictions = [np.asarray(Image.open(out / "predictions" / f"{s}.png")).astype(int) for s in stems]
    for stem, target in zip(stems, targets, strict=True):
        # classes: background 0, hole 1, scratch 2 (sorted defect names)
        expected_class = {"good": 0, "hole": 1, "scratch": 2}[stem.split("_")[0]]
        assert set(np.unique(target)) <= {0, expected_class}
    expected = segmentation_metrics(
        predictions, targets, 3, ignore_index=255, class_names=["background", "hole", "scratch"]
    )
    assert result.metrics["results"]["segmentation"] == json.loads(json.dumps(expected.as_dict()))


def test_classifier_evaluation_agrees_with_scikit_learn(tmp_path: Path, checkpoints) -> None:
    result = evaluate(
        EvaluateConfig(checkpoint=checkpoints["classifier"], dataset="demo", out=tmp_path / "eval")
    )
    rows = _read_csv(result.out_dir / "predictions.csv")
    assert len(rows) == 12  # the classifier is scored on defects only
    labels = [r["label"] for r in rows]
    predicted = [r["prediction"] for r in rows]
    for row in rows:  # the prediction is the most probable class
        probs = {c: float(row[f"p_{c}"]) for c in ("hole", "scratch")}
        assert row["prediction"] == max(probs, key=probs.get)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    metrics = result.metrics["results"]["classification"]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert metrics["confusion"] == confusion_matrix(labels, predicted, labels=["hole", "scratch"]).tolist()


def test_detector_evaluation_agrees_with_scikit_learn(tmp_path: Path, checkpoints) -> None:
    result = evaluate(
        EvaluateConfig(checkpoint=checkpoints["detector"], dataset="demo", out=tmp_path / "eval")
    )
    rows = _read_csv(result.out_dir / "predictions.csv")
    truth = [r["label"] == "defect" for r in rows]
    scores = [float(r["score"]) for r in rows]
    detection = result.metrics["results"]["detection"]
    assert detection["images"] == 15 and detection["defective_images"] == 12
    # the CSV rounds scores to 6 decimals: compare with a tolerance that rounding cannot break
    assert detection["auroc"] == pytest.approx(roc_auc_score(truth, scores), abs=0.02)
    assert detection["ap"] == pytest.approx(average_precision_score(truth, scores), abs=0.02)


def test_predict_writes_maps_masks_and_labels(tmp_path: Path, checkpoints, demo_root: Path) -> None:
    images = demo_root / "brick" / "test" / "hole"
    seg = predict(
        PredictConfig(checkpoint=checkpoints["segmenter"], images=images, out=tmp_path / "seg", threshold=0.3)
    )
    assert seg.images == 9
    for path in sorted(images.glob("*.png")):
        amap = np.load(tmp_path / "seg" / "maps" / f"{path.stem}.npy")
        assert amap.shape == (128, 128) and amap.dtype == np.float32
        np.testing.assert_array_equal(load_mask(tmp_path / "seg" / "masks" / f"{path.stem}.png"), amap >= 0.3)
    cls = predict(PredictConfig(checkpoint=checkpoints["classifier"], images=images, out=tmp_path / "cls"))
    rows = _read_csv(cls.csv)
    assert len(rows) == 9 and {r["prediction"] for r in rows} <= {"hole", "scratch"}
    assert cls.picture.is_file()


def test_evaluation_bad_inputs_name_the_problem(tmp_path: Path, checkpoints) -> None:
    with pytest.raises(InputFileError, match="checkpoint file does not exist"):
        evaluate(
            EvaluateConfig(checkpoint=tmp_path / "missing.safetensors", dataset="demo", out=tmp_path / "e")
        )
    with pytest.raises(InputFileError, match="dataset folder does not exist"):
        evaluate(
            EvaluateConfig(
                checkpoint=checkpoints["segmenter"],
                dataset="mvtec",
                dataset_root=tmp_path / "none",
                object_name="brick",
                out=tmp_path / "e",
            )
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="holds no images"):
        predict(
            PredictConfig(checkpoint=checkpoints["segmenter"], images=tmp_path / "empty", out=tmp_path / "p")
        )
    with pytest.raises(ValueError, match="EvaluateConfig.split"):
        EvaluateConfig(checkpoint=checkpoints["segmenter"], split="test", out=tmp_path / "e")
