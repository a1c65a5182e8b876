"""Kernel Inception Distance (KID, Bińkowski et al. 2018) on precomputed features.

With the cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³`` and subsets X, Y of m rows each, one subset
gives the unbiased estimate of the squared MMD

    MMD² = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²,

exactly as clean-fid's ``kernel_distance``. KID is the mean over ``subsets`` random subsets (drawn without
replacement inside a subset, independently between subsets) of size ``m = min(N_real, N_fake,
subset_size)``; the std is the population std over subsets. A subset of size m = N is the whole set in some
order, and the sums do not depend on the order: its within-set sum is computed once, and when m equals
both set sizes the whole value is computed once (std 0) instead of ``subsets`` times.

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


class _KernelSums:
    """Sums of the cubic kernel over rows of the real and fake features, in float64 with numpy or, when a
    device is given, with torch on that device (on a GPU 10 000 x 2048 features take seconds)."""

    def __init__(self, real: np.ndarray, fake: np.ndarray, device: str | None) -> None:
        self.dim = real.shape[1]
        if device is None:
            self.sets = {"real": real, "fake": fake}
            self._index = lambda rows: rows
        else:
            import torch

            self.sets = {"real": torch.from_numpy(real).to(device), "fake": torch.from_numpy(fake).to(device)}
            self._index = lambda rows: torch.from_numpy(rows).to(device)

    def _rows(self, name: str, rows: np.ndarray | None):
        return self.sets[name] if rows is None else self.sets[name][self._index(rows)]

    def within(self, name: str, rows: np.ndarray | None = None) -> float:
        """Σ_{i≠j} k(a_i, a_j) over ``rows`` of set ``name`` (all rows when None)."""
        a = self._rows(name, rows)
        kernel = (a @ a.T / self.dim + 1.0) ** 3
        return float(kernel.sum()) - float(kernel.diagonal().sum())

    def between(self, real_rows: np.ndarray | None = None, fake_rows: np.ndarray | None = None) -> float:
        """Σ_{i,j} k(x_i, y_j) over the given real and fake rows."""
        kernel = (self._rows("real", real_rows) @ self._rows("fake", fake_rows).T / self.dim + 1.0) ** 3
        return float(kernel.sum())


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equally sized sets under the cubic kernel; ``x``, ``y``: float64 (m, d)."""
    m = x.shape[0]
    sums = _KernelSums(x, y, None)
    return (sums.within("real") + sums.within("fake")) / (m * (m - 1)) - 2.0 * sums.between() / (m * m)


def kid(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    *,
    device: str | None = None,
    progress: bool = False,
) -> KernelDistance:
    """KID between ``real_features`` (N₁, d) and ``fake_features`` (N₂, d), float, finite.

    Returns :class:`KernelDistance` (unpacks as ``mean, std, subsets, subset_size``); values are raw.
    ``seed`` fixes the subsets (numpy ``default_rng``). ``device`` (e.g. ``"cuda"``) computes the same
    float64 sums with torch on that device; ``None`` uses numpy on the CPU.
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
    sums = _KernelSums(real, fake, device)
    sizes = {"real": real.shape[0], "fake": fake.shape[0]}
    # A subset of size N is the whole set in some order, and the within-set sum ignores order: computed once.
    whole = {name: sums.within(name) for name, size in sizes.items() if size == m}
    if len(whole) == 2:
        value = (whole["real"] + whole["fake"]) / (m * (m - 1)) - 2.0 * sums.between() / (m * m)
        return KernelDistance(mean=float(value), std=0.0, subsets=subsets, subset_size=m)
    rng = np.random.default_rng(seed)
    values = np.empty(subsets, dtype=np.float64)
    for index in tqdm(range(subsets), desc="KID subsets", disable=not progress, leave=False):
        rows = {name: rng.choice(size, m, replace=False) for name, size in sizes.items()}
        within = sum(whole[name] if name in whole else sums.within(name, rows[name]) for name in sizes)
        between = sums.between(rows["real"], rows["fake"])
        values[index] = within / (m * (m - 1)) - 2.0 * between / (m * m)
    return KernelDistance(mean=float(values.mean()), std=float(values.std()), subsets=subsets, subset_size=m)
