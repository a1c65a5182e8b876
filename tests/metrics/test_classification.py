"""Classification metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score

from defect_metrics import classification_metrics
from defect_metrics.classification import read_predictions_csv


def test_against_sklearn():
    rng = np.random.default_rng(0)
    classes = ["good", "crack", "scratch", "hole"]
    labels = list(rng.choice(classes, 200))
    predictions = [label if rng.random() < 0.6 else rng.choice(classes) for label in labels]
    metrics = classification_metrics(labels, predictions, classes)
    assert metrics.accuracy == pytest.approx(accuracy_score(labels, predictions))
    assert metrics.balanced_accuracy == pytest.approx(balanced_accuracy_score(labels, predictions))
    np.testing.assert_array_equal(metrics.confusion, confusion_matrix(labels, predictions, labels=classes))
    recalls = recall_score(labels, predictions, labels=classes, average=None)
    assert [metrics.per_class_accuracy[c] for c in classes] == pytest.approx(list(recalls))
    assert metrics.samples == 200


def test_class_without_samples_has_no_accuracy():
    metrics = classification_metrics(["a", "a", "b"], ["a", "c", "b"])
    assert metrics.classes == ["a", "b", "c"]
    assert metrics.per_class_accuracy == {"a": 0.5, "b": 1.0, "c": None}
    assert metrics.balanced_accuracy == pytest.approx(0.75)
    assert metrics.confusion.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]


def test_errors():
    with pytest.raises(ValueError, match="2 labels but 1"):
        classification_metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="not in classes"):
        classification_metrics(["a", "b"], ["a", "z"], classes=["a", "b"])


def test_csv_reader_names_the_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("name,label,prediction\nx,good,crack\ny,crack,crack\n")
    assert read_predictions_csv(path) == (["good", "crack"], ["crack", "crack"])
    path.write_text("name,truth\nx,good\n")
    with pytest.raises(ValueError, match=r"p\.csv: has no column"):
        read_predictions_csv(path)
