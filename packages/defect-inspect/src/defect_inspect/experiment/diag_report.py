"""The report of the diag protocol: ``report.md`` (one row per training set: the FID of its synthetic images
and DIAG's detector metrics on the official test split), ``report.png`` (the metrics as grouped bars),
``results.json`` (the same numbers and every epoch's), and defect-metrics' detailed tables in ``report/``.

The detector columns are the last epoch's (DIAG keeps no validation split, so the last weights are the model);
"best AP" is the highest over the epochs, which picks an epoch on the test split itself and is shown only as
an upper bound.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defect_core.atomic import write_text_atomic
from defect_inspect.experiment.diag import ROW_DATA, ROW_NOTES
from defect_inspect.experiment.report import _relative, bar_chart

if TYPE_CHECKING:
    from defect_inspect.experiment import ExperimentConfig
    from defect_inspect.run_training import TrainResult

logger = logging.getLogger(__name__)

METRIC_COLUMNS = ("AP", "ROC-AUC", "precision @ best F1", "recall @ best F1")
#: DIAG's reported AP gains over the best earlier augmentation (paper, KSDD2)
PAPER_GAINS = "about +28 % AP zero-shot and +18 % AP full-shot over the best earlier augmentation"


def detector_row(run: TrainResult) -> dict[str, float | int | None]:
    """The last epoch's AP, ROC-AUC and best-F1 precision / recall, and the best AP over epochs (and its epoch)."""
    epochs = run.metrics["results"].get("training", {}).get("epoch_metrics") or []
    if not epochs:
        return dict.fromkeys((*METRIC_COLUMNS, "best AP", "best epoch"))
    last = epochs[-1]
    best = max(epochs, key=lambda e: e["ap"])
    return {
        "AP": last["ap"],
        "ROC-AUC": last["auroc"],
        "precision @ best F1": last["precision"],
        "recall @ best F1": last["recall"],
        "best AP": best["ap"],
        "best epoch": best["epoch"],
    }


def diag_table(
    rows: Sequence[str], runs: Mapping[tuple[str, str], TrainResult], fids: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """row -> {FID (None without synthetic images), the detector columns of :func:`detector_row`}."""
    table = {}
    for row in rows:
        synthetic, _ = ROW_DATA[row]
        run = runs.get((row, "detector"))
        metrics = (
            detector_row(run)
            if run is not None
            else dict.fromkeys((*METRIC_COLUMNS, "best AP", "best epoch"))
        )
        table[row] = {"FID": fids.get(synthetic) if synthetic else None, **metrics}
    return table


def _size(size: Sequence[int]) -> str:
    return " x ".join(str(v) for v in size)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def write_diag_report(
    config: ExperimentConfig,
    runs: Mapping[tuple[str, str], TrainResult],
    seconds: Mapping[str, float],
    fids: Mapping[str, float],
    networks: str = "",
) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.png``, ``results.json`` and ``report/`` into ``config.out``; return the
    first two."""
    from defect_metrics import build_report

    out = Path(config.out)
    rows = list(config.settings)
    table = diag_table(rows, runs, fids)
    png = bar_chart(
        {r: {c: table[r][c] for c in METRIC_COLUMNS} for r in rows},
        out / "report.png",
        f"{config.dataset}: DIAG's detector on the official test split (last epoch)",
        columns=METRIC_COLUMNS,
    )
    detailed = None
    if runs:
        keys = list(runs)
        detailed = build_report(
            [runs[k].metrics_file for k in keys], out / "report", names=[row for row, _ in keys]
        ).markdown
    epochs = {
        row: runs[(row, "detector")].metrics["results"].get("training", {}).get("epoch_metrics", [])
        for row in rows
        if (row, "detector") in runs
    }
    results = {
        "protocol": "diag",
        "networks": networks or None,
        "rows": table,
        "epochs": epochs,
        "seconds": dict(seconds),
    }
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")

    h, w = config.detector_input_size
    random_base = config.diag_base_model.startswith("builtin:tiny")
    lines = [
        f"# Experiment: DIAG's protocol on {config.dataset}",
        "",
        f"Test set: the official test split (every defect and defect-free image of `test/`). Detector: "
        f"`{config.detector}` ({'ImageNet weights' if config.pretrained else 'random initialisation'}), one "
        f"logit, BCE, Adam {config.learning_rate:g}, batch {config.batch_size}, {config.epochs} epoch(s), "
        f"{h} x {w} (H x W), no augmentation"
        + (", no validation split" if config.val_fraction == 0 else f", validation {config.val_fraction:g}")
        + ". Metrics are the last epoch's; AP is average precision on the logits.",
        f"DIAG's images: {config.diag_count} per prompt ("
        + ", ".join(f'"{p}"' for p in config.diag_prompts)
        + f') from `{config.diag_base_model}`, negative prompt "{config.diag_negative_prompt}", '
        f"{config.diag_steps} steps, guidance {config.diag_guidance:g}, strength {config.diag_strength:g}, "
        f"mask crop {config.diag_padding_mask_crop}, generated at {_size(config.diag_working_size)} and written "
        f"at {_size(config.diag_output_size)} (W x H), masks of random train positives on random train negatives. "
        f"DefectFill and cut-paste rows: {config.count} images each.",
        "",
        *(
            [
                f"`{config.diag_base_model}` is a randomly initialised model for running the pipeline offline: its "
                "images are noise, so the table measures the plumbing, not the method.",
                "",
            ]
            if random_base
            else []
        ),
        *([f"FID against the real test defects: {networks}.", ""] if networks else []),
        f"DIAG reports {PAPER_GAINS} on KSDD2; compare the zero-shot and full-shot rows' AP with that of the "
        "best augmentation row (real numbers need the real data and weights).",
        "",
        "| training data | FID | " + " | ".join(METRIC_COLUMNS) + " | best AP (epoch) |",
        "|---|---:|" + "---:|" * len(METRIC_COLUMNS) + "---:|",
    ]
    for row in rows:
        values = table[row]
        best = "n/a" if values["best AP"] is None else f"{values['best AP']:.3f} ({values['best epoch']})"
        lines.append(
            f"| {row} | {_fmt(values['FID'], 2)} | "
            + " | ".join(_fmt(values[c]) for c in METRIC_COLUMNS)
            + f" | {best} |"
        )
    lines += ["", *(f"- **{row}**: {ROW_NOTES[row]}" for row in rows), ""]
    lines += [
        "Best AP picks the epoch on the test split itself: an upper bound, not a result.",
        "",
        "![summary](report.png)",
        "",
        "## Training sets",
        "",
        "| run | training items | test items |",
        "|---|---|---|",
    ]
    for (row, _), run in runs.items():
        inputs = run.metrics.get("inputs", {})
        counts = ", ".join(f"{k} {v}" for k, v in inputs.get("training_items", {}).items())
        tested = ", ".join(f"{k} {v}" for k, v in inputs.get("scored_items", {}).items())
        lines.append(f"| {row} | {counts} | {tested} |")
    pictures = [
        (f"{row}: test metrics per epoch", run.out_dir / "metrics.png") for (row, _), run in runs.items()
    ]
    previews = sorted((out / "generated").glob("**/preview.png")) + sorted(
        (out / "cut_paste").glob("**/preview.png")
    )
    pictures += [(f"preview {_relative(p.parent, out)}", p) for p in previews]
    lines += ["", "## Pictures", ""]
    lines += [f"- [{name}]({_relative(path, out)})" for name, path in pictures if path.is_file()]
    lines += ["", "## Time", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {step} | {value:.1f} |" for step, value in seconds.items()]
    lines += [f"| total | {sum(seconds.values()):.1f} |"]
    if detailed is not None:
        lines += [
            "",
            f"Every metric of the final models: [{_relative(detailed, out)}]({_relative(detailed, out)}).",
        ]
    report = write_text_atomic(out / "report.md", "\n".join(lines) + "\n")
    logger.info("report: %s", report)
    return report, png
