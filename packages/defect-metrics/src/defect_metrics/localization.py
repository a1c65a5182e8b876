"""Localization metrics of anomaly maps against ground-truth masks, pixel- and image-level.

Pixel level: every pixel of every map is one sample (label = its mask pixel); AUROC, average precision and
F1-max come from the exact curves of :mod:`defect_metrics.binary_curves`, AUPRO from
:mod:`defect_metrics.pro`, and all four share one sort of all pixels.

Image level: an image's score is the maximum of its map, optionally after a ``k × k`` box (mean) filter,
which keeps a single hot pixel from deciding; its label is whether its mask has any defect pixel. The filter's
border (:data:`SMOOTHING_BORDERS`): ``"reflect"`` mirrors the map (``scipy.ndimage.uniform_filter``'s
default), ``"zero"`` pads with zeros that count in the mean, which is
``torch.nn.functional.avg_pool2d(map, k, stride=1, padding=k // 2)`` (``count_include_pad=True``): the image
score of AnomalyDiffusion's test code (k = 21, on its 256 × 256 maps), which the DefectFill tables follow.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from defect_metrics.binary_curves import BinaryCurve
from defect_metrics.map_pairs import ArrayStack, MapPairs, as_map_list
from defect_metrics.pro import Regions, pro_curve_from_ranking
from defect_metrics.ranking import RankedScores

logger = logging.getLogger(__name__)

#: Curves kept for reports are thinned to at most this many points (plots need no more).
CURVE_POINTS = 512
#: Borders of the image-score box filter: mirrored, or zeros counted in the mean (avg_pool2d's padding).
SMOOTHING_BORDERS: tuple[str, ...] = ("reflect", "zero")


def image_scores(anomaly_maps: ArrayStack, smoothing: int = 0, border: str = "reflect") -> np.ndarray:
    """Per-image score, float64 (N,): the maximum of each map after a ``smoothing × smoothing`` box filter
    (``smoothing`` 0 or 1: no filter) with ``border`` "reflect" or "zero" (odd ``smoothing`` only: the
    window is centred, as ``avg_pool2d(k, stride=1, padding=k // 2)``'s)."""
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    if border not in SMOOTHING_BORDERS:
        raise ValueError(f"border must be one of {', '.join(SMOOTHING_BORDERS)}, got {border!r}")
    if border == "zero" and smoothing > 1 and smoothing % 2 == 0:
        raise ValueError(f"smoothing with zero borders must be odd (a centred window), got {smoothing}")
    maps = as_map_list(anomaly_maps, "anomaly_maps")
    if smoothing <= 1:
        return np.array([float(np.max(m)) for m in maps], dtype=np.float64)
    mode = "reflect" if border == "reflect" else "constant"
    return np.array(
        [
            float(np.max(ndimage.uniform_filter(m.astype(np.float64), size=smoothing, mode=mode, cval=0.0)))
            for m in maps
        ],
        dtype=np.float64,
    )


def image_labels(masks: ArrayStack) -> np.ndarray:
    """Per-image label, bool (N,): True where the mask has at least one defect pixel."""
    return np.array([bool(np.any(m)) for m in as_map_list(masks, "masks")], dtype=bool)


def _pixel_curve(pairs: MapPairs) -> BinaryCurve:
    return BinaryCurve.from_scores(pairs.flat_scores(), pairs.flat_labels())


def pixel_auroc(anomaly_maps: ArrayStack, masks: ArrayStack) -> float:
    """AUROC over all pixels of ``anomaly_maps`` (float (N, H, W) or list) against ``masks`` (bool)."""
    return _pixel_curve(MapPairs.of(anomaly_maps, masks)).auroc()


def pixel_ap(anomaly_maps: ArrayStack, masks: ArrayStack) -> float:
    """Average precision over all pixels (scikit-learn's step-wise definition)."""
    return _pixel_curve(MapPairs.of(anomaly_maps, masks)).average_precision()


def pixel_f1_max(anomaly_maps: ArrayStack, masks: ArrayStack) -> float:
    """The largest pixel F1 over every threshold of the maps."""
    return _pixel_curve(MapPairs.of(anomaly_maps, masks)).f1_max()[0]


def image_auroc(
    anomaly_maps: ArrayStack, masks: ArrayStack, smoothing: int = 0, border: str = "reflect"
) -> float:
    """AUROC of the image scores (:func:`image_scores`) for the image labels (:func:`image_labels`)."""
    return BinaryCurve.from_scores(image_scores(anomaly_maps, smoothing, border), image_labels(masks)).auroc()


def image_ap(
    anomaly_maps: ArrayStack, masks: ArrayStack, smoothing: int = 0, border: str = "reflect"
) -> float:
    """Average precision of the image scores for the image labels."""
    return BinaryCurve.from_scores(
        image_scores(anomaly_maps, smoothing, border), image_labels(masks)
    ).average_precision()


def image_f1_max(
    anomaly_maps: ArrayStack, masks: ArrayStack, smoothing: int = 0, border: str = "reflect"
) -> float:
    """The largest image-level F1 over every threshold of the image scores."""
    curve = BinaryCurve.from_scores(image_scores(anomaly_maps, smoothing, border), image_labels(masks))
    return curve.f1_max()[0]


def thin_curve(x: np.ndarray, y: np.ndarray, points: int = CURVE_POINTS) -> tuple[list[float], list[float]]:
    """At most ``points`` evenly spaced samples of a curve (first and last kept), as lists for JSON."""
    if x.size <= points:
        return x.tolist(), y.tolist()
    keep = np.unique(np.linspace(0, x.size - 1, points).round().astype(np.int64))
    return x[keep].tolist(), y[keep].tolist()


@dataclass(frozen=True)
class LocalizationMetrics:
    """Every localization metric of one set of maps; ``None`` where the data cannot define it.

    Pixel metrics need defect and defect-free pixels, AUPRO needs at least one defect region, image
    metrics need defective and defect-free images. ``curves`` holds thinned curves for plots:
    ``pixel_roc`` / ``image_roc`` (x = FPR, y = TPR), ``pixel_pr`` / ``image_pr`` (x = recall,
    y = precision), ``pro`` (x = FPR, y = PRO, up to FPR 1).
    """

    pixel_auroc: float | None
    pixel_ap: float | None
    pixel_f1_max: float | None
    pixel_f1_threshold: float | None
    aupro: float | None
    fpr_limit: float
    image_auroc: float | None
    image_ap: float | None
    image_f1_max: float | None
    image_f1_threshold: float | None
    smoothing: int
    smoothing_border: str
    images: int
    defective_images: int
    pixels: int
    defect_pixels: int
    regions: int
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict, repr=False)

    def scalars(self) -> dict[str, float | int | None]:
        """Every field except the curves."""
        values = asdict(self)
        values.pop("curves")
        return values


def localization_metrics(
    anomaly_maps: ArrayStack,
    masks: ArrayStack,
    *,
    fpr_limit: float = 0.3,
    smoothing: int = 0,
    smoothing_border: str = "reflect",
    image_maps: ArrayStack | None = None,
    keep_curves: bool = True,
) -> LocalizationMetrics:
    """All pixel and image metrics of ``anomaly_maps`` against ``masks`` with one sort of all pixels.

    ``anomaly_maps``: float (N, H, W) or a list of (H_i, W_i) arrays, finite, higher = more anomalous.
    ``masks``: bool (or 0/1) arrays of the same shapes, True on defect pixels.
    ``fpr_limit``: AUPRO integration limit in (0, 1]; ``smoothing``: box size for image scores (0 = none),
    ``smoothing_border``: its border (:data:`SMOOTHING_BORDERS`); ``image_maps``: the maps the image scores
    are taken from, one per image in the same order (default ``anomaly_maps``), e.g. a model's output at its
    own resolution before it was resized to the image's.
    Metrics the data cannot define (e.g. image AUROC when every image is defective) are ``None``.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    image_scores(np.zeros((1, 1, 1)), smoothing, smoothing_border)  # checks the settings before any work
    pairs = MapPairs.of(anomaly_maps, masks)
    # One ranking of all pixels, tagged with their region id (0 = defect-free), serves ROC, PR and PRO.
    regions = Regions.of(pairs.masks)
    ranking = RankedScores.of(pairs.flat_scores(), regions.ids)
    pixel_curve = BinaryCurve.from_ranking(ranking, regions.positive_tags())
    curves: dict[str, dict[str, list[float]]] = {}
    pixel: dict[str, float | None] = dict.fromkeys(("auroc", "ap", "f1", "f1_threshold", "aupro"))

    if pixel_curve.positives and pixel_curve.negatives:
        pixel["auroc"] = pixel_curve.auroc()
        pixel["ap"] = pixel_curve.average_precision()
        pixel["f1"], pixel["f1_threshold"] = pixel_curve.f1_max()
        pro = pro_curve_from_ranking(ranking, regions)
        pixel["aupro"] = pro.area(fpr_limit)
        if keep_curves:
            fpr, tpr = pixel_curve.roc()
            precision, recall = pixel_curve.precision_recall()
            curves["pixel_roc"] = dict(zip(("x", "y"), thin_curve(fpr, tpr), strict=True))
            curves["pixel_pr"] = dict(zip(("x", "y"), thin_curve(recall, precision), strict=True))
            curves["pro"] = dict(zip(("x", "y"), thin_curve(pro.fpr, pro.pro), strict=True))
    else:
        logger.warning(
            "pixel metrics left out: %d defect and %d defect-free pixels (both are needed)",
            pixel_curve.positives,
            pixel_curve.negatives,
        )

    labels = image_labels(pairs.masks)
    image: dict[str, float | None] = dict.fromkeys(("auroc", "ap", "f1", "f1_threshold"))
    if labels.any() and not labels.all():
        source = pairs.maps if image_maps is None else as_map_list(image_maps, "image_maps")
        if len(source) != len(pairs.maps):
            raise ValueError(f"image_maps: {len(source)} maps for {len(pairs.maps)} images")
        image_curve = BinaryCurve.from_scores(image_scores(source, smoothing, smoothing_border), labels)
        image["auroc"] = image_curve.auroc()
        image["ap"] = image_curve.average_precision()
        image["f1"], image["f1_threshold"] = image_curve.f1_max()
        if keep_curves:
            fpr, tpr = image_curve.roc()
            precision, recall = image_curve.precision_recall()
            curves["image_roc"] = dict(zip(("x", "y"), thin_curve(fpr, tpr), strict=True))
            curves["image_pr"] = dict(zip(("x", "y"), thin_curve(recall, precision), strict=True))
    else:
        logger.warning(
            "image metrics left out: %d defective and %d defect-free images (both are needed)",
            int(labels.sum()),
            int((~labels).sum()),
        )

    return LocalizationMetrics(
        pixel_auroc=pixel["auroc"],
        pixel_ap=pixel["ap"],
        pixel_f1_max=pixel["f1"],
        pixel_f1_threshold=pixel["f1_threshold"],
        aupro=pixel["aupro"],
        fpr_limit=fpr_limit,
        image_auroc=image["auroc"],
        image_ap=image["ap"],
        image_f1_max=image["f1"],
        image_f1_threshold=image["f1_threshold"],
        smoothing=smoothing,
        smoothing_border=smoothing_border,
        images=len(pairs.maps),
        defective_images=int(labels.sum()),
        pixels=ranking.size,
        defect_pixels=pixel_curve.positives,
        regions=regions.count,
        curves=curves,
    )
