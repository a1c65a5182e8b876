"""KID against a hand-computed value, clean-fid's ``kernel_distance`` and a literal double loop."""

from __future__ import annotations

import numpy as np
import pytest
from cleanfid.fid import kernel_distance

from defect_metrics import KernelDistance, kid


def _mmd2_double_loop(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape

    def k(a, b):
        return (float(a @ b) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_hand_computed_example():
    x = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)
    y = np.array([[1, 1], [2, 1], [1, 2]], dtype=float)
    # d = 2. Off-diagonal k_xx: every dot product is 0, so k = 1, mean 1. Off-diagonal k_yy: dot products
    # 3, 3, 4 (each twice), k = (5/2)^3 = 125/8 four times and 3^3 = 27 twice, mean 233/12. k_xy: dot
    # products 0, 0, 0, 1, 2, 1, 1, 1, 2, sum of k = 3 + 4 * 27/8 + 2 * 8 = 65/2, mean 65/18.
    # MMD^2 = 1 + 233/12 - 2 * 65/18 = 475/36.
    result = kid(x, y)
    assert result.mean == pytest.approx(475 / 36, abs=1e-12)
    assert result.std == 0.0
    assert result.subset_size == 3
    assert result.mean_e3 == pytest.approx(475 / 36 * 1e3)


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_clean_fid_when_subset_is_whole_set(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(40, 16))
    fake = rng.normal(loc=0.3, size=(40, 16))
    ours = kid(real, fake, subset_size=1000)
    reference = kernel_distance(real, fake, num_subsets=3, max_subset_size=1000)
    assert ours.mean == pytest.approx(reference, abs=1e-9)
    assert ours.mean == pytest.approx(_mmd2_double_loop(real, fake), abs=1e-9)


def test_subsets_follow_the_seeded_draws():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(30, 5))
    fake = rng.normal(size=(25, 5)) + 0.5
    result = kid(real, fake, subsets=4, subset_size=10, seed=7)
    draws = np.random.default_rng(7)
    values = []
    for _ in range(4):
        r = draws.choice(30, 10, replace=False)
        f = draws.choice(25, 10, replace=False)
        values.append(_mmd2_double_loop(real[r], fake[f]))
    assert result.mean == pytest.approx(np.mean(values), abs=1e-12)
    assert result.std == pytest.approx(np.std(values), abs=1e-12)
    assert isinstance(result, KernelDistance)
    mean, std, subsets, size = result
    assert (subsets, size) == (4, 10)
    assert kid(real, fake, subsets=4, subset_size=10, seed=7) == result
    assert kid(real, fake, subsets=4, subset_size=10, seed=8).mean != result.mean


def test_subset_size_is_capped_by_the_smaller_set():
    rng = np.random.default_rng(0)
    assert kid(rng.normal(size=(12, 3)), rng.normal(size=(9, 3)), subsets=2).subset_size == 9


def test_same_distribution_is_near_zero_and_shift_is_positive():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    assert abs(kid(a, b, subsets=10, subset_size=200).mean) < 0.02
    assert kid(a, b + 1.0, subsets=10, subset_size=200).mean > 0.5


@pytest.mark.parametrize(
    ("real", "fake", "message"),
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), "feature sizes differ"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2"),
        (np.zeros(5), np.zeros((5, 3)), "2-D"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
    ],
)
def test_bad_features_are_rejected(real, fake, message):
    with pytest.raises(ValueError, match=message):
        kid(real, fake)


def test_whole_real_set_with_fake_subsets_and_torch_backend():
    # N_real = m: the real subset is always the whole set (its within-set sum is reused), fake subsets vary.
    rng = np.random.default_rng(4)
    real = rng.normal(size=(8, 4))
    fake = rng.normal(size=(20, 4)) + 0.4
    result = kid(real, fake, subsets=3, subset_size=50, seed=2)
    draws = np.random.default_rng(2)
    values = []
    for _ in range(3):
        r = draws.choice(8, 8, replace=False)
        f = draws.choice(20, 8, replace=False)
        values.append(_mmd2_double_loop(real[r], fake[f]))
    assert result.mean == pytest.approx(np.mean(values), abs=1e-12)
    assert result.std == pytest.approx(np.std(values), abs=1e-12)
    on_torch = kid(real, fake, subsets=3, subset_size=50, seed=2, device="cpu")
    assert on_torch.mean == pytest.approx(result.mean, abs=1e-12)
    assert on_torch.std == pytest.approx(result.std, abs=1e-12)
