"""The experiment's report: ``report.md`` (one row per training setting, the papers' metrics as columns),
``report.png`` (the same numbers as grouped bars), and defect-metrics' detailed tables and curves in
``report/``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.plotting import PALETTE
from defect_inspect.experiment.defectgen_row import DEFECTGEN_VARIANT

if TYPE_CHECKING:
    from defect_inspect.experiment import ExperimentConfig
    from defect_inspect.run_training import TrainResult
    from defect_inspect.synthetic_quality import SetQuality

logger = logging.getLogger(__name__)

#: report column -> (task, path in the metrics results)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cls accuracy": ("classifier", ("classification", "accuracy")),
    "cls balanced acc.": ("classifier", ("classification", "balanced_accuracy")),
    "pixel AUROC": ("segmenter", ("localization", "pixel_auroc")),
    "pixel AP": ("segmenter", ("localization", "pixel_ap")),
    "pixel F1-max": ("segmenter", ("localization", "pixel_f1_max")),
    "AUPRO@0.3": ("segmenter", ("localization", "aupro")),
    "image AUROC": ("segmenter", ("localization", "image_auroc")),
    "mIoU": ("segmenter", ("segmentation", "miou")),
    "mIoU defects": ("segmenter", ("segmentation", "miou_defects")),
    "threshold": ("segmenter", ("training", "threshold")),
    "best-F1 threshold": ("segmenter", ("localization", "pixel_f1_threshold")),
}
THRESHOLD_COLUMNS = ("threshold", "best-F1 threshold")
"""the segmenter's decision threshold (of mIoU) and the threshold at which its pixel F1 on the test set peaks:
diagnostics, not scores (left out of the bar chart)"""
SETTING_NOTES = {
    "real": "baseline: no generated defects, the real training third only",
    "cut-paste": "baseline: cut-paste defects from the real training third",
    "real+cut-paste": "the real training third plus cut-paste defects made from it",
    "real+defectfill": "the real training third plus DefectFill's generated defects",
    "defectfill": "generated defects (DefectFill: concept + LFS)",
    "defectfill-no-lfs": "the same concepts, one candidate per image (no LFS)",
    "defectfill-object-prompt": "the same concepts sampled with DefectFill's object-branch prompt",
    "defectfill-guidance": "the same concepts sampled with classifier-free guidance",
    "zero-shot": "no concept: the base model and a text prompt (DIAG's mode)",
    "no-defect-loss": "concepts trained without L_def, then as defectfill",
    "no-object-loss": "concepts trained without L_obj, then as defectfill",
    "no-attention-loss": "concepts trained without L_attn, then as defectfill",
    "defectgen": "Defect-Gen's own images and masks (generated from noise together), no real defect",
    "defect-gen": "the real training third plus Defect-Gen's images (image and class labels generated together)",
}
QUALITY_COLUMNS = ("KID ×10³", "IC-LPIPS")


def metric_value(results: Mapping[str, Any], path: Sequence[str]) -> float | None:
    """The number at ``path`` inside a metrics document's results, or ``None``."""
    value: Any = results
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def summary_rows(
    settings: Sequence[str], runs: Mapping[tuple[str, str], TrainResult]
) -> dict[str, dict[str, float | None]]:
    """setting → column → value (``None`` where the run or the metric is missing)."""
    table: dict[str, dict[str, float | None]] = {}
    for setting in settings:
        row: dict[str, float | None] = {}
        for column, (task, path) in COLUMNS.items():
            run = runs.get((setting, task))
            row[column] = metric_value(run.metrics["results"], path) if run is not None else None
        table[setting] = row
    return table


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def bar_chart(
    table: Mapping[str, Mapping[str, float | None]],
    path: str | Path,
    title: str,
    columns: Sequence[str] = tuple(COLUMNS),
) -> Path:
    """Grouped bars: one group per column (those of ``columns`` with a value), one bar per row (setting);
    values in [0, 1]; a PNG at ``path``."""
    settings = list(table)
    every = list(columns)
    columns = [c for c in every if any(table[s].get(c) is not None for s in settings)]
    if not columns:
        columns = every
    # wide enough for every column group and for the legend's row of settings (150 px each)
    width, height = max(640, 110 * len(columns) + 120, 150 * len(settings) + 70), 420
    left, right, top, bottom = 50, width - 20, 50, height - 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(13), _font(10)
    draw.text((left, 12), title, fill="black", font=_font(15))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - tick * (bottom - top)
        draw.line([(left, y), (right, y)], fill=(225, 225, 225))
        draw.text((8, y - 7), f"{tick:.2f}", fill="black", font=small)
    draw.rectangle([left, top, right, bottom], outline="black")
    group = (right - left) / len(columns)
    bar = group * 0.8 / max(len(settings), 1)
    for c, column in enumerate(columns):
        x0 = left + c * group + group * 0.1
        for s, setting in enumerate(settings):
            value = table[setting].get(column)
            bx = x0 + s * bar
            if value is None:
                draw.text((bx + 2, bottom - 14), "n/a", fill=(120, 120, 120), font=small)
                continue
            y = bottom - max(0.0, min(1.0, value)) * (bottom - top)
            draw.rectangle([bx, y, bx + bar - 2, bottom], fill=PALETTE[s % len(PALETTE)])
            draw.text((bx, y - 12), f"{value:.2f}", fill="black", font=small)
        draw.text((left + c * group + 4, bottom + 6), column, fill="black", font=small)
    for s, setting in enumerate(settings):
        x = left + s * 150
        draw.rectangle([x, height - 28, x + 14, height - 14], fill=PALETTE[s % len(PALETTE)])
        draw.text((x + 20, height - 29), setting, fill="black", font=font)
    return save_image_atomic(image, path)


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def quality_columns(
    settings: Sequence[str], quality: Mapping[str, SetQuality]
) -> dict[str, dict[str, float | None]]:
    """setting → {KID ×10³, IC-LPIPS} (``None`` for a row without defect images to measure)."""
    return {
        s: {
            QUALITY_COLUMNS[0]: quality[s].kid * 1e3 if s in quality else None,
            QUALITY_COLUMNS[1]: quality[s].ic_lpips if s in quality else None,
        }
        for s in settings
    }


def _defectgen_settings(config: ExperimentConfig) -> str:
    """One phrase: how the experiment's Defect-Gen generator was trained and sampled."""
    sampling = (
        f"{config.defectgen_sample_steps} DDIM steps" if config.defectgen_sample_steps else "1000 DDPM steps"
    )
    return (
        f"{config.defectgen_size} pair at {config.defectgen_resolution} px, {config.defectgen_steps} steps per "
        f"network on the real training third, switch at t = {config.defectgen_switch_step}, {sampling}"
    )


def write_experiment_report(
    config: ExperimentConfig,
    defects: Sequence[str],
    runs: Mapping[tuple[str, str], TrainResult],
    seconds: Mapping[str, float],
    quality: Mapping[str, SetQuality] | None = None,
    networks: str = "",
) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.png``, ``results.json`` and ``report/`` into ``config.out``; return the
    first two. ``quality`` (setting → KID and IC-LPIPS) adds two columns, measured with ``networks``."""
    from defect_core.datasets.splits import resolve_split_rule
    from defect_inspect.data.real import open_real_dataset
    from defect_inspect.evaluation.image_score import DESCRIPTIONS
    from defect_metrics import build_report

    out = Path(config.out)
    settings = list(config.settings)
    split_rule = resolve_split_rule(
        config.split_rule,
        open_real_dataset(
            config.dataset, config.dataset_root, config.object_name, config.defects, config.normals_root
        ).split_rule,
    )
    image_score = DESCRIPTIONS[config.image_score]
    table = summary_rows(settings, runs)
    png = bar_chart(
        table,
        out / "report.png",
        f"{config.object_name}: inspection models on the real held-out split",
        columns=[c for c in COLUMNS if c not in THRESHOLD_COLUMNS],
    )
    detailed = None
    if runs:
        keys = list(runs)
        detailed = build_report(
            [runs[k].metrics_file for k in keys],
            out / "report",
            names=[f"{setting}/{task}" for setting, task in keys],
        ).markdown

    columns = [c for c in COLUMNS if any(table[s][c] is not None for s in settings)] or list(COLUMNS)
    quality = quality or {}
    if quality:
        extra = quality_columns(settings, quality)
        for setting in settings:
            table[setting] = {**extra[setting], **table[setting]}
        columns = [*QUALITY_COLUMNS, *columns]
    results = {
        "config": config.out.name,
        "defects": list(defects),
        "networks": networks or None,
        "rows": table,
        "per_defect_quality": {s: q.per_defect for s, q in quality.items()},
        "seconds": dict(seconds),
    }
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    lines = [
        f"# Experiment: {config.object_name} ({config.dataset})",
        "",
        f"Defect types: {', '.join(defects)}. "
        + (
            f"Concepts: {config.concept_steps} steps at {config.concept_resolution} px "
            f"on `{config.base_model}`; {config.count} generated images per type ({config.candidates} LFS "
            f"candidates, {config.select}, {config.sample_steps} DDIM steps). "
            if any(v != DEFECTGEN_VARIANT for v in config.variants)
            else ""
        )
        + "Inspection: "
        + ", ".join(
            ([f"classifier `{config.classifier}`"] if "classifier" in config.tasks else [])
            + (
                [f"segmenter `{config.segmenter}`" + (f" / `{config.encoder}`" if config.encoder else "")]
                if "segmenter" in config.tasks
                else []
            )
        )
        + f", {config.resolution} px, up to {config.epochs} epochs, "
        + ("ImageNet weights" if config.pretrained else "random initialisation")
        + ".",
        f"Test set: the real held-out defects of each type ({split_rule} split by file name; "
        + ("the test/good images too for the segmenter" if config.normals else "defect images only")
        + f"). Segmenter image score: {image_score}. Concept rows sample with "
        f'"A photo of {{token}}" at guidance 1.0 unless named otherwise (our assumptions: the paper gives neither).',
        "",
        *(
            [
                "Multi-class segmenter (a class per pixel from the label images): mIoU is the mean IoU over "
                "every class, background included; mIoU defects over the defect classes alone. Both come "
                "from one confusion matrix over all test pixels; a class absent from both prediction and "
                "truth is left out. Defect Spectrum's table does not say which of the two it reports.",
                "",
            ]
            if config.segmenter_classes == "multi" and "segmenter" in config.tasks
            else []
        ),
        *(
            [
                f"`{config.base_model}` is a randomly initialised model for running the pipeline offline: its "
                '"generated defects" are noise, so the generated rows measure the plumbing, not the method. Use '
                "`builtin:texture` or a real inpainting model (Stable Diffusion 2 inpainting) for numbers that mean "
                "something.",
                "",
            ]
            if config.base_model == "builtin:tiny"
            else []
        ),
        *(
            [
                f"KID (against the real held-out defects) and IC-LPIPS (clustered on the real training third): "
                f"{networks}.",
                "",
            ]
            if quality
            else []
        ),
        "| training data | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for setting in settings:
        lines.append(f"| {setting} | " + " | ".join(_fmt(table[setting][c]) for c in columns) + " |")
    notes = {
        **SETTING_NOTES,
        "defectfill-object-prompt": f'{SETTING_NOTES["defectfill-object-prompt"]} "{config.object_prompt}"',
        "defectfill-guidance": f"{SETTING_NOTES['defectfill-guidance']} {config.variant_guidance:g}",
        "defectgen": f"{SETTING_NOTES['defectgen']}; {_defectgen_settings(config)}",
        **{
            mixed: f"{SETTING_NOTES[mixed]} ({config.mix_ratio:g} per real training defect of each type)"
            for mixed in ("real+cut-paste", "real+defectfill")
        },
    }
    lines += ["", *(f"- **{s}**: {notes[s]}" for s in settings), "", "![summary](report.png)", ""]
    lines += [
        "## Training sets",
        "",
        "| run | training items | validation items | best epoch | epochs run |",
        "|---|---|---|---:|---:|",
    ]
    for (setting, task), run in runs.items():
        inputs = run.metrics.get("inputs", {})
        training = run.metrics["results"].get("training", {})
        counts = ", ".join(f"{k} {v}" for k, v in inputs.get("training_items", {}).items())
        val = ", ".join(f"{k} {v}" for k, v in inputs.get("validation_items", {}).items()) or "none"
        lines.append(
            f"| {setting}/{task} | {counts} | {val} | {training.get('best_epoch')} | "
            f"{training.get('epochs_run')} |"
        )
    lines += ["", "## Pictures", ""]
    pictures = [(f"generated: {v}", out / "generated" / v / "preview.png") for v in config.variants]
    pictures += [("Defect-Gen training preview", out / "defectgen" / "preview.png")]
    pictures += [
        (f"generated: zero-shot {d}", out / "generated" / "zero-shot" / d / "preview.png") for d in defects
    ]
    pictures += [(f"cut-paste {d}", out / "cut_paste" / d / "preview.png") for d in defects]
    pictures += [
        (f"concept {c}/{d} preview", out / "concepts" / c / d / "preview.png")
        for c in ("defectfill", "no-defect-loss", "no-object-loss", "no-attention-loss")
        for d in defects
    ]
    pictures += [(f"{s}/{t} predictions", run.picture) for (s, t), run in runs.items()]
    lines += [f"- [{name}]({_relative(path, out)})" for name, path in pictures if path.is_file()]
    lines += ["", "## Time", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {step} | {value:.1f} |" for step, value in seconds.items()]
    lines += [f"| total | {sum(seconds.values()):.1f} |"]
    if detailed is not None:
        lines += [
            "",
            f"Every metric, with ROC / PR / PRO curves: [{_relative(detailed, out)}]"
            f"({_relative(detailed, out)}).",
        ]
    report = write_text_atomic(out / "report.md", "\n".join(lines) + "\n")
    logger.info("report: %s", report)
    return report, png
