"""An item's label image in the model's classes: read, checked, translated by class name, resized.

The label ids of an item are its own class table's (:attr:`InspectionItem.class_table`); the model's are
the merged classes of :mod:`defect_inspect.data.class_tables`. Translation goes by class name, so items with
different tables train one model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from defect_core.errors import InputFileError
from defect_inspect.data.class_tables import UNKNOWN_ID, label_lookup
from defect_inspect.data.items import InspectionItem
from defect_inspect.data.label_resize import resize_labels_covering


def model_labels(
    item: InspectionItem, classes: Sequence[str], image_size: tuple[int, int] | None = None
) -> np.ndarray:
    """int64 (H, W) at the image's own size: the item's labels as indices of ``classes`` (0 = background).

    ``image_size`` is (width, height) of the item's image (read from it when not given). A label image of
    another size, or with an id outside the item's class table, raises :class:`InputFileError` naming it.
    """
    ids = item.load_labels(image_size)
    source = item.labels or item.mask or item.image
    if image_size is not None and ids.shape != (image_size[1], image_size[0]):
        raise InputFileError(
            source,
            f"labels are {ids.shape[1]}x{ids.shape[0]} but the image {item.image.name} is "
            f"{image_size[0]}x{image_size[1]}",
        )
    mapped = label_lookup(item.class_table, classes)[ids]
    if (mapped == UNKNOWN_ID).any():
        bad = sorted(int(v) for v in np.unique(ids[mapped == UNKNOWN_ID]))
        raise InputFileError(
            source, f"label value(s) {bad} are not ids of its class table {item.class_table}"
        )
    return mapped


def model_label_target(
    item: InspectionItem, classes: Sequence[str], image_size: tuple[int, int], size: tuple[int, int]
) -> np.ndarray:
    """int64 (height, width) training target at the model's input ``size`` = (height, width): the item's
    :func:`model_labels` resized by :func:`resize_labels_covering` (no defect lost)."""
    labels = model_labels(item, classes, image_size)
    height, width = size
    return resize_labels_covering(labels.astype(np.uint8), (width, height)).astype(np.int64)
