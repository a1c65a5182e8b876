"""``predict(config)``: a trained model on a folder of images, the library function behind ``predict``.

Writes into ``out``: ``predictions.csv`` (one row per image: the predicted class or decision and the
probabilities / score), for segmenters ``maps/<stem>.npy`` (float32 P(defect) at the image's size) and
``masks/<stem>.png`` (P >= threshold, 0 / 255; class-index images with ``multiclass``), ``predictions.png``
and ``config.toml``. A segmenter trained with ``--classes multi`` writes, as a generation output does,
``labels/<stem>.png`` (class ids, uint8, 0 = background), ``labels_color/<stem>.png`` (the class palette) and
``classes.json`` (``{id: name}``), with ``masks/`` the union of the classes (0 / 255).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.class_labels import labels_color_image, labels_image
from defect_core.configs import coerce_paths, config_field, require, save_config
from defect_core.errors import InputFileError
from defect_core.images import list_images, load_rgb, mask_to_image
from defect_core.output_layout import LABELS_COLOR_DIR, LABELS_DIR
from defect_inspect.evaluation.picture import PictureRow, prediction_picture

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictConfig:
    """Settings of ``defect-inspect predict``."""

    checkpoint: Path | None = config_field(None, "model.safetensors of a training run")
    images: Path | None = config_field(None, "folder of images to predict")
    out: Path | None = config_field(None, "output folder")
    threshold: float | None = config_field(
        None, "decision threshold on P(defect) (default: the training run's)"
    )
    batch_size: int = config_field(16, "images per forward pass")
    device: str = config_field("auto", "device: auto, cpu, cuda, ...")
    mixed_precision: bool = config_field(True, "mixed precision on a GPU")
    preview_count: int = config_field(8, "rows of predictions.png")

    def __post_init__(self) -> None:
        coerce_paths(self)

        require(self, self.checkpoint is not None, "checkpoint", "give the trained model (--checkpoint FILE)")
        require(self, self.images is not None, "images", "give a folder of images (--images DIR)")
        require(self, self.out is not None, "out", "an output folder is required (--out DIR)")
        require(self, self.threshold is None or 0.0 < self.threshold < 1.0, "threshold", "must be in (0, 1)")
        require(self, self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self, self.preview_count >= 1, "preview_count", "must be >= 1")


@dataclass(frozen=True)
class PredictionResult:
    """Where the predictions went, and how many images."""

    out_dir: Path
    csv: Path
    picture: Path
    images: int


def _stems(paths: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        n = seen.get(path.stem, 0)
        seen[path.stem] = n + 1
        stems.append(path.stem if n == 0 else f"{path.stem}_{n}")
    return stems


def predict(config: PredictConfig, *, progress: bool = False) -> PredictionResult:
    """Predict every image of ``config.images`` (see the module docstring)."""
    # torch comes in here, not at import: the CLI builds its parser from PredictConfig without it
    from defect_inspect.evaluation.inference import run_inference
    from defect_inspect.evaluation.scoring import PICTURE_NAME, save_map, write_csv
    from defect_inspect.training.checkpoint import load_checkpoint
    from defect_inspect.training.tasks import DEFECT
    from defect_metrics import resolve_device

    assert config.checkpoint is not None and config.images is not None and config.out is not None
    images = list_images(config.images)
    if not images:
        raise InputFileError(config.images, "holds no images (png, jpg, bmp, tif, webp)")
    out_dir = Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, out_dir / "config.toml")
    device = resolve_device(config.device)
    model, info = load_checkpoint(config.checkpoint, device)
    threshold = info.threshold if config.threshold is None else config.threshold
    result = run_inference(
        model,
        info,
        images,
        device=device,
        batch_size=config.batch_size,
        mixed_precision=config.mixed_precision,
        progress=progress,
    )
    stems = _stems(images)
    rows: list[PictureRow] = []
    if info.task == "segmenter":
        table = []
        for k, (path, stem, amap) in enumerate(zip(images, stems, result.maps, strict=True)):
            save_map(amap, out_dir / "maps" / f"{stem}.npy")
            if info.label_images:
                labels = result.label_maps[k].astype(np.uint8)
                save_image_atomic(labels_image(labels), out_dir / LABELS_DIR / f"{stem}.png")
                save_image_atomic(labels_color_image(labels), out_dir / LABELS_COLOR_DIR / f"{stem}.png")
                save_image_atomic(mask_to_image(labels > 0), out_dir / "masks" / f"{stem}.png")
                present = [info.classes[c] for c in np.unique(labels) if c > 0]
            elif info.multiclass:
                labels = result.label_maps[k].astype(np.uint8)
                save_image_atomic(Image.fromarray(labels, mode="L"), out_dir / "masks" / f"{stem}.png")
                present = [info.classes[c] for c in np.unique(labels) if c > 0]
            else:
                save_image_atomic(mask_to_image(amap >= threshold), out_dir / "masks" / f"{stem}.png")
                present = [DEFECT] if (amap >= threshold).any() else []
            score = float(amap.max())
            table.append([str(path), f"{stem}.npy", f"{score:.6f}", " ".join(present) or "good"])
            if len(rows) < config.preview_count:
                image = load_rgb(path)
                rows.append(PictureRow(image, np.zeros(amap.shape, bool), path.stem, amap, threshold))
        csv_path = write_csv(out_dir / "predictions.csv", ["image", "map", "max_score", "prediction"], table)
        if info.label_images:
            from defect_inspect.evaluation.class_scoring import write_class_table

            write_class_table(info.classes, out_dir / "classes.json")
    elif info.task == "classifier":
        assert result.probabilities is not None
        table = [
            [str(path), info.classes[int(p.argmax())], *(f"{v:.6f}" for v in p)]
            for path, p in zip(images, result.probabilities, strict=True)
        ]
        csv_path = write_csv(
            out_dir / "predictions.csv", ["image", "prediction", *(f"p_{c}" for c in info.classes)], table
        )
        for path, row in list(zip(images, table, strict=True))[: config.preview_count]:
            image = load_rgb(path)
            rows.append(PictureRow(image, np.zeros((image.height, image.width), bool), f"{row[1]}"))
    else:
        assert result.scores is not None
        table = [
            [str(path), DEFECT if s >= threshold else "good", f"{s:.6f}"]
            for path, s in zip(images, result.scores, strict=True)
        ]
        csv_path = write_csv(out_dir / "predictions.csv", ["image", "prediction", "score"], table)
        for path, row in list(zip(images, table, strict=True))[: config.preview_count]:
            image = load_rgb(path)
            rows.append(
                PictureRow(image, np.zeros((image.height, image.width), bool), f"{row[1]} p={row[2][:4]}")
            )
    picture = prediction_picture(rows, out_dir / PICTURE_NAME)
    logger.info("predicted %d image(s) into %s", len(images), out_dir)
    return PredictionResult(out_dir, csv_path, picture, len(images))
