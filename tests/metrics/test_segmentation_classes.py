"""Multi-class segmentation metrics from one confusion matrix over all images: per-class IoU against a hand
count and scikit-learn, the two means (defect classes only / with background), absent classes, the picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix, jaccard_score

from defect_core.plotting import PALETTE
from defect_metrics import confusion_matrix_picture, metrics_from_confusion, segmentation_metrics
from defect_metrics.cli import main
from defect_metrics.confusion_picture import row_normalised

# two images, classes 0 = background, 1 = scratch, 2 = stain (3 = dent never appears)
TARGETS = [
    np.array([[0, 0, 1, 1], [0, 2, 2, 1], [0, 0, 0, 0]]),
    np.array([[2, 2], [0, 1]]),
]
PREDICTIONS = [
    np.array([[0, 1, 1, 1], [0, 2, 0, 1], [2, 0, 0, 0]]),
    np.array([[2, 1], [0, 0]]),
]
NAMES = ["background", "scratch", "stain", "dent"]


def test_iou_per_class_against_a_hand_count() -> None:
    metrics = segmentation_metrics(PREDICTIONS, TARGETS, 4, class_names=NAMES, background=0)
    # counted pixel by pixel over both images (rows: true class, columns: predicted class)
    assert metrics.confusion.tolist() == [[6, 1, 1, 0], [1, 3, 0, 0], [1, 1, 2, 0], [0, 0, 0, 0]]
    # background: TP 6, FP 2 (a stain and a scratch pixel called background), FN 2 -> 6 / 10
    # scratch:    TP 3, FP 2 (one background, one stain pixel called scratch), FN 1 -> 3 / 6
    # stain:      TP 2, FP 1 (one background pixel),                           FN 2 -> 2 / 5
    # dent: in neither predictions nor targets -> no IoU, left out of both means
    assert metrics.iou == [pytest.approx(0.6), pytest.approx(0.5), pytest.approx(0.4), None]
    assert metrics.miou_defects == pytest.approx((0.5 + 0.4) / 2)
    assert metrics.miou_with_background == pytest.approx((0.6 + 0.5 + 0.4) / 3)
    assert metrics.miou == metrics.miou_with_background
    assert metrics.pixel_accuracy == pytest.approx(11 / 16)
    values = metrics.as_dict()
    assert values["miou_defects"] == pytest.approx(0.45)
    assert values["miou_with_background"] == pytest.approx(0.5)
    assert values["background"] == "background"
    assert values["iou"] == {
        "background": pytest.approx(0.6),
        "scratch": pytest.approx(0.5),
        "stain": pytest.approx(0.4),
        "dent": None,
    }


def test_one_global_matrix_is_not_a_mean_of_per_image_ious() -> None:
    # image 1 alone has stain IoU 1/3 and image 2 alone 1/2; the dataset-level IoU is 2/5, not their mean
    per_image = [segmentation_metrics([p], [t], 3).iou[2] for p, t in zip(PREDICTIONS, TARGETS, strict=True)]
    assert per_image == [pytest.approx(1 / 3), pytest.approx(1 / 2)]
    assert segmentation_metrics(PREDICTIONS, TARGETS, 3).iou[2] == pytest.approx(0.4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    targets = [rng.choice(5, size=(7, 9), p=[0.7, 0.1, 0.1, 0.1, 0.0]) for _ in range(5)]
    predictions = [np.where(rng.random(t.shape) < 0.6, t, rng.integers(0, 4, t.shape)) for t in targets]
    metrics = segmentation_metrics(predictions, targets, 5, background=0)
    y_true = np.concatenate([t.ravel() for t in targets])
    y_pred = np.concatenate([p.ravel() for p in predictions])
    np.testing.assert_array_equal(metrics.confusion, confusion_matrix(y_true, y_pred, labels=range(5)))
    present = sorted(set(y_true) | set(y_pred))
    reference = jaccard_score(y_true, y_pred, labels=present, average=None)
    assert [metrics.iou[c] for c in present] == pytest.approx(list(reference))
    assert metrics.iou[4] is None  # class 4 never occurs
    defects = [c for c in present if c != 0]
    assert metrics.miou_defects == pytest.approx(
        float(np.mean(reference[[present.index(c) for c in defects]]))
    )
    assert metrics.miou_with_background == pytest.approx(float(np.mean(reference)))


def test_without_a_background_the_result_is_the_old_one() -> None:
    metrics = segmentation_metrics(
        [np.array([[0, 1]])], [np.array([[0, 1]])], 2, class_names=["bg", "defect"]
    )
    assert set(metrics.as_dict()) == {"miou", "pixel_accuracy", "iou", "confusion"}


def test_from_a_confusion_matrix_and_its_errors() -> None:
    matrix = np.array([[6, 1, 1], [1, 3, 0], [1, 1, 2]])
    metrics = metrics_from_confusion(matrix, NAMES[:3], background=0)
    assert metrics.iou == pytest.approx([0.6, 0.5, 0.4])
    assert metrics.miou_defects == pytest.approx(0.45)
    with pytest.raises(ValueError, match="square"):
        metrics_from_confusion(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="negative"):
        metrics_from_confusion(-matrix)
    with pytest.raises(ValueError, match="background index 3"):
        metrics_from_confusion(matrix, background=3)
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        metrics_from_confusion(matrix, ["a", "b"])
    # no defect class has pixels: the defect mean is undefined (NaN, null in JSON), not 0
    assert np.isnan(metrics_from_confusion(np.array([[5, 0], [0, 0]]), background=0).miou_defects)


def test_row_normalised_confusion_picture(tmp_path: Path) -> None:
    matrix = np.array([[8, 0, 0], [0, 4, 4], [0, 0, 0]])
    shares = row_normalised(matrix)
    np.testing.assert_allclose(shares[:2], [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    assert np.isnan(shares[2]).all()  # no true pixel of class 2: an empty row, not zeros
    path = confusion_matrix_picture(
        matrix, ["background", "scratch", "cut_inner_insulation"], tmp_path / "c.png"
    )
    pixels = np.asarray(Image.open(path).convert("RGB"))
    full = np.all(pixels == np.array(PALETTE[0], dtype=np.uint8), axis=-1).sum()
    grey = np.all(pixels == np.array((235, 235, 235), dtype=np.uint8), axis=-1).sum()
    # one full cell (background row), three grey cells (the empty row); 44 px cells less text and grid lines
    assert 1000 < full < 44 * 44
    assert 3 * 1000 < grey < 3 * 44 * 44
    with pytest.raises(ValueError, match="2 class names"):
        confusion_matrix_picture(matrix, ["a", "b"], tmp_path / "bad.png")


def test_cli_writes_both_means_and_the_picture(tmp_path: Path, capsys) -> None:
    for folder, arrays in (("pred", PREDICTIONS), ("true", TARGETS)):
        (tmp_path / folder).mkdir()
        for k, array in enumerate(arrays):
            Image.fromarray(array.astype(np.uint8), mode="L").save(tmp_path / folder / f"{k}.png")
    code = main(
        [
            "segmentation",
            "--predictions",
            str(tmp_path / "pred"),
            "--targets",
            str(tmp_path / "true"),
            "--num-classes",
            "3",
            "--background",
            "0",
            "--class-names",
            "background,scratch,stain",
            "--picture",
            str(tmp_path / "confusion.png"),
            "--output",
            str(tmp_path / "m.json"),
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "m.json").read_text())["results"]
    assert results["miou_defects"] == pytest.approx(0.45)
    assert results["miou_with_background"] == pytest.approx(0.5)
    assert results["iou"]["stain"] == pytest.approx(0.4)
    assert (tmp_path / "confusion.png").is_file()
    assert "miou_defects" in capsys.readouterr().out
