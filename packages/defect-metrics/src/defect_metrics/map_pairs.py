"""Anomaly maps paired with ground-truth masks, checked once and flattened for the pixel metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ArrayStack = np.ndarray | Sequence[np.ndarray]


def as_map_list(arrays: ArrayStack, what: str) -> list[np.ndarray]:
    """A (N, H, W) array or a sequence of (H_i, W_i) arrays as a list of 2-D arrays."""
    if isinstance(arrays, np.ndarray):
        if arrays.ndim == 2:
            arrays = arrays[None]
        if arrays.ndim != 3:
            raise ValueError(f"{what} must be (N, H, W) or a list of (H, W) arrays, got shape {arrays.shape}")
        return list(arrays)
    items = [np.asarray(a) for a in arrays]
    for index, item in enumerate(items):
        if item.ndim != 2:
            raise ValueError(f"{what}[{index}] must be 2-D (H, W), got shape {item.shape}")
    return items


@dataclass(frozen=True)
class MapPairs:
    """N anomaly maps and N masks of matching shapes.

    ``maps``: list of float (H_i, W_i) arrays, finite, higher = more anomalous;
    ``masks``: list of bool (H_i, W_i) arrays, True on defect pixels.
    """

    maps: list[np.ndarray]
    masks: list[np.ndarray]

    @classmethod
    def of(cls, anomaly_maps: ArrayStack, masks: ArrayStack) -> MapPairs:
        """Check and pair; raises ``ValueError`` naming the index of the first bad pair."""
        map_list = as_map_list(anomaly_maps, "anomaly_maps")
        mask_list = as_map_list(masks, "masks")
        if len(map_list) != len(mask_list):
            raise ValueError(f"{len(map_list)} anomaly maps but {len(mask_list)} masks")
        if not map_list:
            raise ValueError("no anomaly maps given")
        for index, (amap, mask) in enumerate(zip(map_list, mask_list, strict=True)):
            if amap.shape != mask.shape:
                raise ValueError(f"anomaly map {index} has shape {amap.shape} but its mask has {mask.shape}")
            if amap.dtype.kind not in "fiub":
                raise ValueError(f"anomaly map {index} must be real-valued, got dtype {amap.dtype}")
            if not np.all(np.isfinite(amap)):
                raise ValueError(f"anomaly map {index} contains NaN or infinite values")
        return cls(maps=map_list, masks=[np.asarray(m).astype(bool, copy=False) for m in mask_list])

    def flat_scores(self) -> np.ndarray:
        """All pixels of all maps in one 1-D array (the maps' common float dtype, at least float32)."""
        dtype = np.result_type(np.float32, *(m.dtype for m in self.maps))
        return np.concatenate([m.ravel() for m in self.maps]).astype(dtype, copy=False)

    def flat_labels(self) -> np.ndarray:
        """All mask pixels in the order of :meth:`flat_scores`, bool."""
        return np.concatenate([m.ravel() for m in self.masks])
