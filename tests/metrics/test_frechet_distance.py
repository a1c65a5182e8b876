"""FID against the closed form for 1-D Gaussians and against clean-fid's ``frechet_distance``."""

from __future__ import annotations

import numpy as np
import pytest
from cleanfid.fid import fid_from_feats
from cleanfid.fid import frechet_distance as clean_fid_frechet_distance

from defect_metrics import feature_statistics, fid, frechet_distance

# clean-fid (the reference) calls scipy with an argument newer SciPy deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


def test_one_dimensional_closed_form():
    # For 1-D Gaussians FID = (mu1 - mu2)^2 + (s1 - s2)^2.
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, abs=1e-12)


def test_diagonal_closed_form():
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_clean_fid_on_random_features(seed):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(24, 24))
    real = rng.normal(size=(200, 24)) @ mixing
    fake = rng.normal(size=(150, 24)) @ (mixing + 0.3 * rng.normal(size=(24, 24))) + 0.5
    reference = fid_from_feats(real, fake)
    assert fid(real, fake) == pytest.approx(reference, rel=1e-9, abs=1e-9)
    mu1, s1 = feature_statistics(real)
    mu2, s2 = feature_statistics(fake)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        clean_fid_frechet_distance(mu1, s1, mu2, s2), rel=1e-9
    )


def test_identical_sets_give_zero_even_when_covariance_is_singular():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(10, 32))  # fewer samples than dimensions: rank-deficient covariance
    # sqrt of rounding noise on the 22 zero eigenvalues is ~1e-8 each; relative to tr Σ ≈ 64 this is exact.
    assert fid(features, features) == pytest.approx(0.0, abs=1e-5)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="feature sizes differ"):
        fid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        fid(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="shapes do not fit"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
