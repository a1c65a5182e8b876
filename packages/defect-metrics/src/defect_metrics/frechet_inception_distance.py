"""Fréchet Inception Distance (FID, Heusel et al. 2017) on precomputed features.

FID = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^{1/2}, with means and unbiased covariances
(``np.cov``) of the two feature sets, as clean-fid's ``fid_from_feats``.

The trace of the matrix square root is taken from the eigenvalues of the symmetric matrix
``Σ₁^{1/2} Σ₂ Σ₁^{1/2}``, which has the same eigenvalues as Σ₁ Σ₂ (so the same trace of the square root)
but is symmetric positive semi-definite: ``eigh`` never returns the complex parts or non-finite values for
which clean-fid retries with ``eps`` on the diagonal (it agrees with clean-fid to ~1e-12 on 5000 x 2048
features, at about the same speed). Eigenvalues that rounding pushes below zero are clipped to 0.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance of two Gaussians: means (d,) and symmetric PSD covariances (d, d), float."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"shapes do not fit: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, sigma2 {sigma2.shape}"
        )
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def feature_statistics(features: np.ndarray, name: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), unbiased covariance (d, d)) of ``features`` (N, d), float64; N >= 2."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, d), got shape {features.shape}")
    if features.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows for a covariance, got {features.shape[0]}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contains NaN or infinite values")
    features = features.astype(np.float64, copy=False)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """FID between ``real_features`` (N₁, d) and ``fake_features`` (N₂, d), float, finite; >= 0 up to rounding.

    With fewer samples than dimensions the covariances are singular; the value is still defined but biased
    (clean-fid warns the same way), so a warning is logged.
    """
    mu1, sigma1 = feature_statistics(real_features, "real_features")
    mu2, sigma2 = feature_statistics(fake_features, "fake_features")
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature sizes differ: real has d = {mu1.size}, fake has d = {mu2.size}")
    smallest = min(np.shape(real_features)[0], np.shape(fake_features)[0])
    if smallest <= mu1.size:
        logger.warning(
            "FID on %d samples of %d dimensions: covariances are singular, FID is biased", smallest, mu1.size
        )
    return frechet_distance(mu1, sigma1, mu2, sigma2)
