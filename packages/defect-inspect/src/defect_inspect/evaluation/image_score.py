"""How a segmenter's map of P(defect) becomes one image-level score (image AUROC / AP / F1-max).

- ``"pooled"`` (default): the maximum of the map average-pooled over 21 × 21 pixels at the model's input
  resolution, zeros outside the map counted in the mean. This is AnomalyDiffusion's test code
  (``avg_pool2d(softmax_output[:, 1:], 21, stride=1, padding=21 // 2)``, then the max, on its 256 × 256
  outputs), whose setup the DefectFill paper follows for its localization and image-level tables. The pool
  runs on the model's own output, before it is resized to the image, so that the window covers the same share
  of the image as theirs (21 of 256 px) whatever the image size.
- ``"max"``: the raw maximum of the map at the image's size.

Pixel metrics are the same in both cases; ``metrics.json`` names the rule in ``settings.image_score`` and
in ``results.localization.image_score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IMAGE_SCORES: tuple[str, ...] = ("pooled", "max")
POOL_SIZE = 21
"""Side of the average-pooling window of the ``pooled`` image score (AnomalyDiffusion, DefectFill)."""

DESCRIPTIONS: dict[str, str] = {
    "pooled": f"max of the {POOL_SIZE}x{POOL_SIZE} average-pooled map at the model's resolution "
    f"(avg_pool2d stride 1, padding {POOL_SIZE // 2}, zero padding counted; AnomalyDiffusion / DefectFill)",
    "max": "max of the map at the image's size",
}


def check_image_score(name: str) -> str:
    """``name`` if it is one of :data:`IMAGE_SCORES`, else ``ValueError`` listing them."""
    if name not in IMAGE_SCORES:
        raise ValueError(f"image score must be one of {', '.join(IMAGE_SCORES)}; got {name!r}")
    return name


def image_score_arguments(name: str, model_maps: Sequence[Any]) -> dict[str, Any]:
    """Keyword arguments of ``defect_metrics.localization_metrics`` for the rule ``name``; ``model_maps``:
    the maps at the model's resolution, float (R, R) each, in the order of the test items."""
    if check_image_score(name) == "max":
        return {"smoothing": 0}
    return {"smoothing": POOL_SIZE, "smoothing_border": "zero", "image_maps": list(model_maps)}
