"""defect_metrics: KID, FID, IC-LPIPS, localization, classification and segmentation metrics.

Names are imported on first use (PEP 562), so that the numpy-only metrics (localization, classification,
segmentation, KID and FID on features) do not pay for importing torch. ``__all__`` is the export table's
names; besides the metrics it holds what defect-inspect builds on: :func:`resolve_device` (the device
picker of metrics and inspect), ``INCEPTION_SIZE`` (the 299 px input of clean-fid's Inception-v3),
:class:`RandomConvFeatures`, and :class:`MissingWeightsError` (defined in ``defect_core.errors``).
"""

# ruff: noqa: F401 - see the TYPE_CHECKING block
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from defect_core.lazy_exports import lazy_exports

try:
    __version__ = version("defect-metrics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "KernelDistance": "kernel_distance",
    "kid": "kernel_distance",
    "polynomial_mmd2": "kernel_distance",
    "fid": "frechet_inception_distance",
    "frechet_distance": "frechet_inception_distance",
    "feature_statistics": "frechet_inception_distance",
    "FeatureExtractor": "features",
    "INCEPTION_SIZE": "features",
    "INCEPTION_DIM": "features",
    "InceptionFeatures": "features",
    "load_inception": "features",
    "extract_features": "features",
    "clean_resize": "features",
    "RandomConvFeatures": "random_features",
    "resolve_device": "devices",
    "MissingWeightsError": "weights",
    "inception_weights_path": "weights",
    "lpips_backbone_path": "weights",
    "load_lpips": "lpips_network",
    "LPIPSEmbedder": "lpips_embedding",
    "ICLPIPSConfig": "intra_cluster_lpips",
    "ICLPIPSResult": "intra_cluster_lpips",
    "ic_lpips": "intra_cluster_lpips",
    "auroc": "binary_curves",
    "average_precision": "binary_curves",
    "f1_max": "binary_curves",
    "BinaryCurve": "binary_curves",
    "ProCurve": "pro",
    "pro_curve": "pro",
    "aupro": "pro",
    "pixel_auroc": "localization",
    "pixel_ap": "localization",
    "pixel_f1_max": "localization",
    "image_scores": "localization",
    "image_auroc": "localization",
    "image_ap": "localization",
    "image_f1_max": "localization",
    "LocalizationMetrics": "localization",
    "localization_metrics": "localization",
    "load_anomaly_map": "map_files",
    "ClassificationMetrics": "classification",
    "classification_metrics": "classification",
    "confusion_matrix": "classification",
    "SegmentationMetrics": "segmentation",
    "segmentation_metrics": "segmentation",
    "metrics_from_confusion": "segmentation",
    "confusion_matrix_picture": "confusion_picture",
    "build_report": "report",
    "metrics_document": "metrics_file",
    "write_metrics": "metrics_file",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)


# These imports are the names of __all__, which is built from _EXPORTS, so ruff's unused-import check cannot
# see them used (hence the file-level noqa); tests/test_package_arrows.py checks that they and _EXPORTS agree.
if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from defect_metrics.binary_curves import BinaryCurve, auroc, average_precision, f1_max
    from defect_metrics.classification import ClassificationMetrics, classification_metrics, confusion_matrix
    from defect_metrics.confusion_picture import confusion_matrix_picture
    from defect_metrics.devices import resolve_device
    from defect_metrics.features import (
        INCEPTION_DIM,
        INCEPTION_SIZE,
        FeatureExtractor,
        InceptionFeatures,
        clean_resize,
        extract_features,
        load_inception,
    )
    from defect_metrics.frechet_inception_distance import feature_statistics, fid, frechet_distance
    from defect_metrics.intra_cluster_lpips import ICLPIPSConfig, ICLPIPSResult, ic_lpips
    from defect_metrics.kernel_distance import KernelDistance, kid, polynomial_mmd2
    from defect_metrics.localization import (
        LocalizationMetrics,
        image_ap,
        image_auroc,
        image_f1_max,
        image_scores,
        localization_metrics,
        pixel_ap,
        pixel_auroc,
        pixel_f1_max,
    )
    from defect_metrics.lpips_embedding import LPIPSEmbedder
    from defect_metrics.lpips_network import load_lpips
    from defect_metrics.map_files import load_anomaly_map
    from defect_metrics.metrics_file import metrics_document, write_metrics
    from defect_metrics.pro import ProCurve, aupro, pro_curve
    from defect_metrics.random_features import RandomConvFeatures
    from defect_metrics.report import build_report
    from defect_metrics.segmentation import SegmentationMetrics, metrics_from_confusion, segmentation_metrics
    from defect_metrics.weights import MissingWeightsError, inception_weights_path, lpips_backbone_path
