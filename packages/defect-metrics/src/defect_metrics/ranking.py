"""Scores sorted once from high to low, each carrying a small integer tag (a label or a region id).

All ranking metrics here (ROC, precision-recall, PRO) only need, at every distinct score t, sums over the
samples scoring ``>= t`` of some value that depends on the sample's tag: 1 for positives (true
positives), 1 for negatives (false positives), ``1 / |region|`` for the pixels of a region (PRO). So one
sort of (score, tag) pairs serves every curve, and tied scores are collapsed into one threshold, so no
result depends on the order of equal scores.

Speed: for float32 (and narrower) scores the score's bits are mapped to an order-preserving unsigned
integer and packed with the tag into one uint64 key, and the keys are sorted by value (numpy's SIMD sort);
this is several times faster than ``argsort`` and needs no random-access gather afterwards. Other dtypes
use ``argsort``; both paths give the same thresholds and sums.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

_SIGN = np.uint32(0x80000000)
_LOW = np.uint64(0xFFFFFFFF)
_FAST_DTYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.uint16, np.bool_)


def _sortable_bits(scores: np.ndarray) -> np.ndarray:
    """uint32 keys with the order of the float32 ``scores`` (-0.0 counted as +0.0)."""
    bits = (scores.astype(np.float32) + np.float32(0.0)).view(np.uint32)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _float_from_sortable(keys: np.ndarray) -> np.ndarray:
    keys = keys.astype(np.uint32)
    return np.where(keys & _SIGN, keys & ~_SIGN, ~keys).view(np.float32)


@dataclass(frozen=True)
class RankedScores:
    """Tags in the order of their scores, highest first, and where each run of tied scores ends.

    ``tags``: uint32 (n,); ``run_ends``: int64 (k,), index in ``tags`` of the last sample of each run of
    equal scores; ``thresholds``: (k,) the distinct scores, decreasing (float32 or float64).
    """

    tags: np.ndarray
    run_ends: np.ndarray
    thresholds: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, tags: np.ndarray) -> RankedScores:
        """Rank ``scores`` (real, finite, any shape) with one tag per score (non-negative ints < 2³²)."""
        flat = np.ravel(scores)
        tags = np.ravel(tags)
        if flat.size == 0:
            raise ValueError("scores are empty")
        if tags.size != flat.size:
            raise ValueError(f"{tags.size} labels for {flat.size} scores")
        if flat.dtype.kind not in "fiub":
            raise ValueError(f"scores must be real numbers, got dtype {flat.dtype}")
        if flat.dtype.kind == "f" and not np.all(np.isfinite(flat)):
            raise ValueError(f"scores contain {int(np.sum(~np.isfinite(flat)))} NaN or infinite values")
        if tags.dtype.kind not in "biu" or (tags.size and tags.dtype.kind == "i" and tags.min() < 0):
            raise ValueError("tags must be non-negative integers")
        if flat.dtype.type in _FAST_DTYPES:
            keys = (_sortable_bits(flat).astype(np.uint64) << np.uint64(32)) | tags.astype(np.uint64)
            keys.sort()
            keys = keys[::-1]
            high = (keys >> np.uint64(32)).astype(np.uint32)
            ranked_tags = (keys & _LOW).astype(np.uint32)
            run_ends = np.append(np.flatnonzero(high[1:] != high[:-1]), flat.size - 1)
            thresholds = _float_from_sortable(high[run_ends])
        else:
            values = flat.astype(np.float64, copy=False)
            order = np.argsort(values)[::-1]
            ranked = values[order]
            ranked_tags = tags.astype(np.uint32)[order]
            run_ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), flat.size - 1)
            thresholds = ranked[run_ends]
        return cls(tags=ranked_tags, run_ends=run_ends, thresholds=thresholds)

    @property
    def size(self) -> int:
        """Number of ranked samples."""
        return int(self.tags.size)

    def cumulative(self, per_tag: np.ndarray) -> np.ndarray:
        """At each threshold, the sum of ``per_tag[tag]`` over the samples scoring ``>=`` it.

        ``per_tag``: (max tag + 1,) values; integer or bool tables give exact int64 counts, float tables
        float64 sums.
        """
        per_tag = np.asarray(per_tag)
        dtype = np.int64 if per_tag.dtype.kind in "biu" else np.float64
        return np.cumsum(per_tag[self.tags], dtype=dtype)[self.run_ends]
