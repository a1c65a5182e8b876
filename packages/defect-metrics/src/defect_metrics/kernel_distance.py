"""Kernel Inception Distance (KID, Bińkowski et al. 2018) on precomputed features.

With the cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³`` and subsets X, Y of m rows each, one subset
gives the unbiased estimate of the squared MMD

    MMD² = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²,

exactly as clean-fid's ``kernel_distance``. KID is the mean over ``subsets`` random subsets (drawn without
replacement inside a subset, independently between subsets) of size ``m = min(N_real, N_fake,
subset_size)``; the std is the population std over subsets. When m equals both set sizes every subset is
the whole set, so the value is computed once (std 0) instead of ``subsets`` times.

KID is reported raw here; papers often print it × 10³ (:attr:`KernelDistance.mean_e3`).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class KernelDistance(NamedTuple):
    """KID over subsets: ``mean`` and ``std`` (raw, not × 10³), and how it was drawn."""

    mean: float
    std: float
    subsets: int
    subset_size: int

    @property
    def mean_e3(self) -> float:
        """The mean × 10³, the scale most papers print."""
        return self.mean * 1e3

    @property
    def std_e3(self) -> float:
        """The std × 10³."""
        return self.std * 1e3


def _check_features(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, d), got shape {features.shape}")
    if features.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows for the unbiased estimate, got {features.shape[0]}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contains NaN or infinite values")
    # float64 throughout: MMD² is a small difference of large kernel sums.
    return features.astype(np.float64, copy=False)


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equally sized sets under the cubic kernel; ``x``, ``y``: float64 (m, d)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    *,
    progress: bool = False,
) -> KernelDistance:
    """KID between ``real_features`` (N₁, d) and ``fake_features`` (N₂, d), float, finite.

    Returns :class:`KernelDistance` (unpacks as ``mean, std, subsets, subset_size``); values are raw.
    ``seed`` fixes the subsets (numpy ``default_rng``).
    """
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    real = _check_features(real_features, "real_features")
    fake = _check_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: real has d = {real.shape[1]}, fake has d = {fake.shape[1]}")
    m = min(real.shape[0], fake.shape[0], subset_size)
    if m == real.shape[0] == fake.shape[0]:
        # MMD² does not depend on the order of rows, so every subset gives this same value.
        return KernelDistance(mean=polynomial_mmd2(real, fake), std=0.0, subsets=subsets, subset_size=m)
    rng = np.random.default_rng(seed)
    values = np.empty(subsets, dtype=np.float64)
    for index in tqdm(range(subsets), desc="KID subsets", disable=not progress, leave=False):
        real_rows = rng.choice(real.shape[0], m, replace=False)
        fake_rows = rng.choice(fake.shape[0], m, replace=False)
        values[index] = polynomial_mmd2(real[real_rows], fake[fake_rows])
    return KernelDistance(mean=float(values.mean()), std=float(values.std()), subsets=subsets, subset_size=m)
