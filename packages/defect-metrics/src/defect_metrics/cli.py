"""Command line of defect-metrics: a thin layer over the library functions.

Every metric subcommand prints a readable table (or, with ``--json``, the metrics JSON document) and with
``--output FILE`` also writes the document, which ``defect-metrics report`` turns into a comparison.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from defect_core.errors import DefectfillError, InputFileError
from defect_metrics import __version__

logger = logging.getLogger(__name__)

Runner = Callable[[argparse.Namespace], dict[str, Any]]
_SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Runner]] = {}


def register_subcommand(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``run(args) -> metrics document`` as subcommand ``name``."""

    def decorator(run: Runner) -> Runner:
        _SUBCOMMANDS[name] = (help, add_arguments, run)
        return run

    return decorator


# --- shared options -------------------------------------------------------------------------------


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", type=Path, help="also write the metrics JSON document to this file")
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of a table")


def _feature_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--real", type=Path, required=True, help="folder of real images, or a .npy (N, d) of features"
    )
    parser.add_argument(
        "--fake", type=Path, required=True, help="folder of generated images, or a .npy of features"
    )
    parser.add_argument(
        "--inception-weights", type=Path, help="clean-fid's inception-2015-12-05.pt (default: its cache)"
    )
    parser.add_argument(
        "--extractor",
        help="'module:factory' where factory() returns a callable (N,3,H,W) in [0,255] -> (N,d) (default: Inception-v3)",
    )
    parser.add_argument(
        "--image-size", type=int, default=299, help="clean resize side for the extractor (default 299)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", help="torch device (default: cuda if available)")
    parser.add_argument("--workers", type=int, default=4, help="threads that read and resize images")


def _load_extractor(spec: str):
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--extractor must look like 'module:factory', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--extractor {spec!r} cannot be imported ({exc})") from exc
    return factory()


def _features(path: Path, args: argparse.Namespace, extractor) -> np.ndarray:
    if path.is_file() and path.suffix.lower() == ".npy":
        try:
            features = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputFileError(path, f"cannot be read as a .npy array ({exc})") from exc
        if features.ndim != 2:
            raise InputFileError(path, f"features must be 2-D (N, d), got shape {features.shape}")
        return features
    from defect_core.images import list_images
    from defect_metrics.features import extract_features

    images = list_images(path)
    if not images:
        raise InputFileError(path, "no images in this folder")
    return extract_features(
        images,
        extractor,
        image_size=args.image_size,
        batch_size=args.batch_size,
        device=args.device,
        workers=args.workers,
        inception_weights=args.inception_weights,
    )


def _both_features(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    needs_images = any(not (p.is_file() and p.suffix.lower() == ".npy") for p in (args.real, args.fake))
    extractor = None
    if needs_images and args.extractor:
        extractor = _load_extractor(args.extractor)
    elif needs_images:
        from defect_metrics.devices import resolve_device
        from defect_metrics.features import load_inception

        extractor = load_inception(args.inception_weights, resolve_device(args.device))
    return _features(args.real, args, extractor), _features(args.fake, args, extractor)


def _feature_inputs(args: argparse.Namespace, real: np.ndarray, fake: np.ndarray) -> dict[str, Any]:
    return {
        "real": str(args.real),
        "fake": str(args.fake),
        "real_count": int(real.shape[0]),
        "fake_count": int(fake.shape[0]),
        "feature_dim": int(real.shape[1]),
        "extractor": args.extractor or "inception-v3 (clean-fid, clean resize)",
    }


# --- subcommands ----------------------------------------------------------------------------------


def _kid_arguments(parser: argparse.ArgumentParser) -> None:
    _feature_options(parser)
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--subset-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)


@register_subcommand(
    "kid", "Kernel Inception Distance between two image folders or feature files", _kid_arguments
)
def run_kid(args: argparse.Namespace) -> dict[str, Any]:
    from defect_metrics.kernel_distance import kid
    from defect_metrics.metrics_file import metrics_document

    real, fake = _both_features(args)
    value = kid(
        real,
        fake,
        subsets=args.subsets,
        subset_size=args.subset_size,
        seed=args.seed,
        device=args.device,
        progress=True,
    )
    return metrics_document(
        "kid",
        {"kid": value.mean, "kid_std": value.std, "kid_x1e3": value.mean_e3, "kid_std_x1e3": value.std_e3},
        inputs=_feature_inputs(args, real, fake),
        settings={"subsets": value.subsets, "subset_size": value.subset_size, "seed": args.seed},
    )


@register_subcommand(
    "fid", "Fréchet Inception Distance between two image folders or feature files", _feature_options
)
def run_fid(args: argparse.Namespace) -> dict[str, Any]:
    from defect_metrics.frechet_inception_distance import fid
    from defect_metrics.metrics_file import metrics_document

    real, fake = _both_features(args)
    return metrics_document("fid", {"fid": fid(real, fake)}, inputs=_feature_inputs(args, real, fake))


def _ic_lpips_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generated", type=Path, required=True, help="folder of generated defect images")
    parser.add_argument("--training", type=Path, required=True, help="folder of the training defect images")
    parser.add_argument("--generated-masks", type=Path, help="masks of the generated images (same stems)")
    parser.add_argument("--training-masks", type=Path, help="masks of the training images (same stems)")
    parser.add_argument("--crop", action="store_true", help="compare crops around the defect masks")
    parser.add_argument("--variant", choices=("defectfill", "dfmgan"), default="defectfill")
    parser.add_argument("--max-members", type=int, help="members per cluster (default 50; dfmgan 200)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--net", choices=("alex", "vgg", "squeeze"), default="alex")
    parser.add_argument(
        "--lpips-weights", type=Path, help="torchvision checkpoint of the trunk (default: hub cache)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", help="torch device (default: cuda if available)")


def _images_with_masks(images_dir: Path, masks_dir: Path | None) -> tuple[list[Path], list[Path] | None]:
    from defect_core.images import list_images
    from defect_metrics.map_files import pair_by_stem

    images = list_images(images_dir)
    if not images:
        raise InputFileError(images_dir, "no images in this folder")
    if masks_dir is None:
        return images, None
    pairs = pair_by_stem(images, list_images(masks_dir), images_dir, masks_dir)
    return [p[0] for p in pairs], [p[1] for p in pairs]


@register_subcommand(
    "ic-lpips", "Intra-cluster LPIPS of generated defects against the training defects", _ic_lpips_arguments
)
def run_ic_lpips(args: argparse.Namespace) -> dict[str, Any]:
    from defect_metrics.devices import resolve_device
    from defect_metrics.intra_cluster_lpips import ICLPIPSConfig, ic_lpips
    from defect_metrics.lpips_network import load_lpips
    from defect_metrics.metrics_file import metrics_document

    overrides: dict[str, Any] = {
        "region": "crop" if args.crop else "image",
        "image_size": args.image_size,
        "net": args.net,
        "batch_size": args.batch_size,
    }
    if args.max_members is not None:
        overrides["max_members"] = args.max_members
    config = ICLPIPSConfig.dfmgan(**overrides) if args.variant == "dfmgan" else ICLPIPSConfig(**overrides)
    if args.crop and (args.generated_masks is None or args.training_masks is None):
        raise ValueError("--crop needs --generated-masks and --training-masks")
    generated, generated_masks = _images_with_masks(
        args.generated, args.generated_masks if args.crop else None
    )
    training, training_masks = _images_with_masks(args.training, args.training_masks if args.crop else None)
    device = resolve_device(args.device)
    network = load_lpips(config.net, device=device, backbone_weights=args.lpips_weights)
    result = ic_lpips(
        generated,
        training,
        config=config,
        generated_masks=generated_masks,
        training_masks=training_masks,
        network=network,
        device=device,
    )
    non_empty = int(np.sum(~np.isnan(result.per_cluster)))
    return metrics_document(
        "intra_cluster_lpips",
        {
            "ic_lpips": result.value,
            "clusters": len(training),
            "non_empty_clusters": non_empty,
            "per_cluster": {p.stem: v for p, v in zip(training, result.per_cluster.tolist(), strict=True)},
            "cluster_sizes": {p.stem: int(n) for p, n in zip(training, result.cluster_sizes, strict=True)},
        },
        inputs={
            "generated": str(args.generated),
            "training": str(args.training),
            "generated_count": len(generated),
        },
        settings={"variant": args.variant, **asdict(config)},
    )


def _localization_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--maps", type=Path, required=True, help="folder of anomaly maps (.npy or float .tiff)"
    )
    parser.add_argument("--masks", type=Path, required=True, help="folder of ground-truth masks (same stems)")
    parser.add_argument(
        "--missing-mask-is-good", action="store_true", help="a map without a mask is a defect-free image"
    )
    parser.add_argument("--fpr-limit", type=float, default=0.3, help="AUPRO integration limit (default 0.3)")
    parser.add_argument(
        "--smoothing", type=int, default=0, help="box filter size before the image max (0: none)"
    )
    parser.add_argument(
        "--smoothing-border",
        choices=("reflect", "zero"),
        default="reflect",
        help="box filter border: reflect (mirrored) or zero (zeros counted: avg_pool2d(k, stride 1, "
        "padding k//2), AnomalyDiffusion's image score with --smoothing 21)",
    )
    parser.add_argument("--no-curves", action="store_true", help="leave the curves out of the JSON document")


@register_subcommand(
    "localization", "Pixel AUROC / AP / F1-max / AUPRO and image AUROC / AP / F1-max", _localization_arguments
)
def run_localization(args: argparse.Namespace) -> dict[str, Any]:
    from defect_metrics.localization import localization_metrics
    from defect_metrics.map_files import pair_maps_with_masks
    from defect_metrics.metrics_file import metrics_document

    files = pair_maps_with_masks(args.maps, args.masks, missing_mask_is_good=args.missing_mask_is_good)
    maps, masks = files.load()
    metrics = localization_metrics(
        maps,
        masks,
        fpr_limit=args.fpr_limit,
        smoothing=args.smoothing,
        smoothing_border=args.smoothing_border,
        keep_curves=not args.no_curves,
    )
    scalars = metrics.scalars()
    settings = {key: scalars.pop(key) for key in ("fpr_limit", "smoothing", "smoothing_border")}
    return metrics_document(
        "localization",
        scalars,
        inputs={"maps": str(args.maps), "masks": str(args.masks)},
        settings=settings,
        curves=metrics.curves,
    )


def _classification_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--predictions", type=Path, required=True, help="CSV with a header; one row per sample"
    )
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--prediction-column", default="prediction")
    parser.add_argument("--classes", help="comma-separated class order (default: sorted names)")


@register_subcommand(
    "classification",
    "Accuracy, per-class accuracy and confusion matrix from a CSV",
    _classification_arguments,
)
def run_classification(args: argparse.Namespace) -> dict[str, Any]:
    from defect_metrics.classification import classification_metrics, read_predictions_csv
    from defect_metrics.metrics_file import metrics_document

    labels, predictions = read_predictions_csv(args.predictions, args.label_column, args.prediction_column)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    metrics = classification_metrics(labels, predictions, classes)
    return metrics_document(
        "classification", metrics.as_dict(), inputs={"predictions": str(args.predictions)}
    )


def _segmentation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--predictions", type=Path, required=True, help="folder of predicted label maps or masks"
    )
    parser.add_argument(
        "--targets", type=Path, required=True, help="folder of target label maps or masks (same stems)"
    )
    parser.add_argument("--num-classes", type=int, help="number of classes (label maps); 2 with --binary")
    parser.add_argument(
        "--binary", action="store_true", help="inputs are 0/255 masks: classes background, defect"
    )
    parser.add_argument("--ignore-index", type=int, help="target value to skip (e.g. 255)")
    parser.add_argument(
        "--background",
        type=int,
        metavar="INDEX",
        help="class index of the background (0 for class-index labels): adds miou_defects, the mean over the "
        "other classes, beside miou_with_background",
    )
    parser.add_argument("--class-names", metavar="LIST", help="comma-separated class names, in index order")
    parser.add_argument(
        "--picture", type=Path, metavar="PNG", help="also draw the row-normalised confusion matrix here"
    )


@register_subcommand(
    "segmentation", "Per-class IoU and mIoU of label maps or binary masks", _segmentation_arguments
)
def run_segmentation(args: argparse.Namespace) -> dict[str, Any]:
    from defect_core.images import list_images, load_mask
    from defect_metrics.map_files import load_label_map, pair_by_stem
    from defect_metrics.metrics_file import metrics_document
    from defect_metrics.segmentation import segmentation_metrics

    if not args.binary and args.num_classes is None:
        raise ValueError("give --num-classes, or --binary for 0/255 masks")
    pairs = pair_by_stem(
        list_images(args.predictions), list_images(args.targets), args.predictions, args.targets
    )

    def read(path: Path) -> np.ndarray:
        return load_mask(path).astype(np.int64) if args.binary else load_label_map(path)

    num_classes = 2 if args.binary else args.num_classes
    names = ["background", "defect"] if args.binary else None
    if args.class_names:
        names = [n.strip() for n in args.class_names.split(",")]
    metrics = segmentation_metrics(
        (read(p) for p, _ in pairs),
        (read(t) for _, t in pairs),
        num_classes,
        ignore_index=args.ignore_index,
        class_names=names,
        background=args.background,
    )
    if args.picture is not None:
        from defect_metrics.confusion_picture import confusion_matrix_picture

        confusion_matrix_picture(metrics.confusion, metrics.class_names, args.picture)
    settings = {"num_classes": num_classes, "binary": args.binary, "ignore_index": args.ignore_index}
    if args.background is not None:
        settings["background"] = args.background
    return metrics_document(
        "segmentation",
        metrics.as_dict(),
        inputs={"predictions": str(args.predictions), "targets": str(args.targets), "pairs": len(pairs)},
        settings=settings,
    )


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", help="metrics JSON files written with --output")
    parser.add_argument("--output", "-o", type=Path, required=True, help="folder for report.md and the plots")
    parser.add_argument("--names", help="comma-separated run names, one per file (default: file stems)")


def run_report(args: argparse.Namespace) -> int:
    from defect_metrics.report import build_report

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    files = build_report(args.files, args.output, names=names)
    print(files.markdown)
    for plot in files.plots:
        print(plot)
    return 0


# --- entry point ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="defect-metrics", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _) in _SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        _output_options(sub)
    report = commands.add_parser(
        "report", help="Markdown table and ROC / PR / PRO plots from metrics JSON files"
    )
    _report_arguments(report)
    return parser


def _emit(document: dict[str, Any], args: argparse.Namespace) -> None:
    from defect_metrics.metrics_file import format_table, write_metrics

    if args.output is not None:
        write_metrics(args.output, document)
        logger.info("metrics written to %s", args.output)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(format_table(document))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "report":
            return run_report(args)
        _emit(_SUBCOMMANDS[args.command][2](args), args)
    except (DefectfillError, ValueError, FileNotFoundError) as exc:
        print(f"defect-metrics {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
