"""Exact AUROC / AP against scikit-learn and F1-max against a brute force over every threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from defect_metrics import BinaryCurve, auroc, average_precision, f1_max


def _brute_force_f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    best = 0.0
    for threshold in np.unique(scores):
        predicted = scores >= threshold
        tp = np.sum(predicted & labels)
        fp = np.sum(predicted & ~labels)
        fn = np.sum(~predicted & labels)
        best = max(best, 2 * tp / (2 * tp + fp + fn))
    return best


@st.composite
def _scored_labels(draw):
    size = draw(st.integers(2, 60))
    levels = draw(st.integers(1, 12))  # few levels: many ties
    scores = np.array(draw(st.lists(st.integers(0, levels), min_size=size, max_size=size)), dtype=float) / 7.0
    labels = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)))
    labels[draw(st.integers(0, size - 1))] = True  # at least one positive; all-positive cases stay possible
    return scores, labels


@settings(max_examples=60, deadline=None)
@given(_scored_labels())
def test_against_sklearn_and_brute_force_with_ties(data):
    scores, labels = data
    assert f1_max(scores, labels) == pytest.approx(_brute_force_f1_max(scores, labels), abs=1e-12)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )
    if labels.all():
        with pytest.raises(ValueError, match="both classes"):
            auroc(scores, labels)
    else:
        assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_continuous_scores_match_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.random(5000) < 0.2
    scores = rng.normal(size=5000) + labels
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )


def test_known_small_case():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert auroc(scores, labels) == pytest.approx(0.75)
    # Thresholds 0.8, 0.4, 0.35: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    assert average_precision(scores, labels) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    curve = BinaryCurve.from_scores(scores, labels)
    assert curve.f1_max() == pytest.approx((0.8, 0.35))
    assert curve.thresholds.tolist() == [0.8, 0.4, 0.35, 0.1]
    assert curve.true_positives.tolist() == [1, 1, 2, 2]


def test_tied_scores_enter_together():
    # Order of equal scores must not matter: both orders give the same curve.
    scores = np.array([0.5, 0.5, 0.5, 0.1])
    a = BinaryCurve.from_scores(scores, np.array([1, 0, 0, 0], dtype=bool))
    b = BinaryCurve.from_scores(scores, np.array([0, 0, 1, 0], dtype=bool))
    assert a.auroc() == b.auroc() == pytest.approx(roc_auc_score([1, 0, 0, 0], scores))
    assert a.thresholds.tolist() == [0.5, 0.1]


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        auroc(np.array([0.1, np.nan]), np.array([True, False]))
    with pytest.raises(ValueError, match="labels for"):
        auroc(np.array([0.1, 0.2]), np.array([True]))
    with pytest.raises(ValueError, match="positive"):
        f1_max(np.array([0.1, 0.2]), np.array([False, False]))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int16, np.uint8, np.bool_])
def test_packed_key_sort_equals_the_float64_path(dtype):
    # Narrow dtypes take the packed (score bits, tag) sort; float64 takes argsort. Both must agree exactly,
    # including negative scores and -0.0 tied with +0.0.
    rng = np.random.default_rng(0)
    if dtype is np.bool_:
        scores = rng.random(3000) < 0.3
    elif np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        scores = rng.integers(max(info.min, -300), min(info.max, 300), 3000).astype(dtype)
    else:
        scores = np.round(rng.normal(size=3000), 2).astype(dtype)
        scores[:10] = -0.0
        scores[10:20] = 0.0
    labels = rng.random(3000) < 0.4
    fast = BinaryCurve.from_scores(scores, labels)
    generic = BinaryCurve.from_scores(scores.astype(np.float64), labels)
    np.testing.assert_array_equal(fast.thresholds.astype(np.float64), generic.thresholds)
    np.testing.assert_array_equal(fast.true_positives, generic.true_positives)
    np.testing.assert_array_equal(fast.false_positives, generic.false_positives)
    assert fast.auroc() == pytest.approx(roc_auc_score(labels, scores.astype(np.float64)), abs=1e-12)
