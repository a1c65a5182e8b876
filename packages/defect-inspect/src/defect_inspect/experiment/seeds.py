"""The experiment over several seeds: one whole run per seed, then every cell as mean ± standard deviation.

One seed on a few dozen test defects cannot tell a real difference from noise (a re-run of the same command
on another CPU moved the proof table's main row from AP 0.238 to 0.160). ``--seeds 0 1 2`` runs the protocol
once per seed into ``<out>/seed-<n>/`` (each with its own concepts, generated images, cut-paste sets and
inspection models; a seed already done is reused step by step, as a single run is) and writes into ``<out>``:

- ``report.md``: each row's cells as mean ± sample standard deviation over the seeds, and which rows differ
  from ``real`` and from ``cut-paste`` beyond the seed spread (:func:`compare_rows`);
- ``results.json``: per row and column the values of every seed, their mean and standard deviation;
- ``report.png``: the means as grouped bars.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defect_core.atomic import write_text_atomic
from defect_core.configs import config_to_dict, dump_toml, load_toml, save_config

if TYPE_CHECKING:
    from defect_inspect.experiment.protocol import ExperimentConfig, ExperimentResult

logger = logging.getLogger(__name__)

COMPARED_COLUMNS: tuple[str, ...] = ("pixel AP", "AUPRO@0.3")
"""columns whose differences the seed report judges against the seed spread"""
REFERENCE_ROWS: tuple[str, ...] = ("real", "cut-paste")


def seed_folder(out: Path, seed: int) -> Path:
    """Where seed ``seed``'s run goes inside ``out``."""
    return Path(out) / f"seed-{seed}"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator; 0 for a single value)."""
    if not values:
        raise ValueError("no values")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def compare_rows(a: Sequence[float], b: Sequence[float]) -> str:
    """``"higher"`` / ``"lower"`` when row ``a`` beats / trails row ``b`` beyond the seed spread, else
    ``"within spread"``. Both hold one value per seed, same seeds in the same order: the comparison is paired
    (a seed shares its data split and test set between rows). A difference holds when every seed's difference
    has the same sign and their mean is larger than their standard deviation; fewer than two seeds never do."""
    if len(a) != len(b):
        raise ValueError(f"rows have {len(a)} and {len(b)} seeds")
    if len(a) < 2:
        return "within spread"
    differences = [x - y for x, y in zip(a, b, strict=True)]
    mean, std = mean_std(differences)
    same_sign = all(d > 0 for d in differences) or all(d < 0 for d in differences)
    if same_sign and abs(mean) > std:
        return "higher" if mean > 0 else "lower"
    return "within spread"


def aggregate(per_seed: Mapping[int, Mapping[str, Mapping[str, float | None]]]) -> dict[str, Any]:
    """seed -> row -> column -> value (each seed's ``results.json`` rows) to row -> column ->
    ``{"values", "mean", "std"}``; a cell missing in any seed is ``None``."""
    seeds = list(per_seed)
    if not seeds:
        raise ValueError("no seed results")
    first = per_seed[seeds[0]]
    table: dict[str, Any] = {}
    for row in first:
        table[row] = {}
        for column in first[row]:
            values = [per_seed[s].get(row, {}).get(column) for s in seeds]
            if any(v is None for v in values):
                table[row][column] = None
                continue
            mean, std = mean_std([float(v) for v in values])  # type: ignore[arg-type]
            table[row][column] = {"values": values, "mean": mean, "std": std}
    return table


def _cell(cell: Mapping[str, Any] | None, scale: float = 1.0) -> str:
    if cell is None:
        return "n/a"
    if len(cell["values"]) == 1:
        return f"{cell['mean'] * scale:.3f}"
    return f"{cell['mean'] * scale:.3f} ± {cell['std'] * scale:.3f}"


def comparisons(table: Mapping[str, Any]) -> list[str]:
    """Lines of the report: for each row and each reference row, how it compares on :data:`COMPARED_COLUMNS`."""
    lines = []
    for reference in REFERENCE_ROWS:
        if reference not in table:
            continue
        for row in table:
            if row == reference:
                continue
            verdicts = []
            for column in COMPARED_COLUMNS:
                a, b = table[row].get(column), table[reference].get(column)
                if a is None or b is None:
                    continue
                verdicts.append(f"{column} {compare_rows(a['values'], b['values'])}")
            if verdicts:
                lines.append(f"- {row} vs {reference}: " + ", ".join(verdicts))
    return lines


def write_seed_report(config: ExperimentConfig, seeds: Sequence[int]) -> tuple[Path, Path]:
    """Aggregate the ``results.json`` of every seed folder into ``report.md``, ``results.json`` and
    ``report.png`` in ``config.out``; return the report and the picture."""
    from defect_inspect.experiment.report import COLUMNS, SETTING_NOTES, THRESHOLD_COLUMNS, bar_chart

    out = Path(config.out)
    per_seed, seconds = {}, {}
    for seed in seeds:
        results = json.loads((seed_folder(out, seed) / "results.json").read_text())
        per_seed[seed] = results["rows"]
        seconds[seed] = sum(results.get("seconds", {}).values())
    table = aggregate(per_seed)
    columns = [c for c in next(iter(table.values())) if any(table[r][c] is not None for r in table)]
    means = {r: {c: (table[r][c]["mean"] if table[r][c] else None) for c in columns} for r in table}
    png = bar_chart(
        means,
        out / "report.png",
        f"{config.object_name}: mean over seeds {', '.join(map(str, seeds))}",
        columns=[c for c in COLUMNS if c not in THRESHOLD_COLUMNS],
    )
    lines = [
        f"# Experiment over {len(seeds)} seed(s): {config.object_name} ({config.dataset})",
        "",
        f"Seeds {', '.join(map(str, seeds))}: each seed is a whole run (concepts, generated images, cut-paste "
        "sets, inspection models) in `seed-<n>/`, with its own report. Cells: mean ± sample standard "
        "deviation over the seeds.",
        "",
        "| training data | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for row in table:
        lines.append(f"| {row} | " + " | ".join(_cell(table[row][c]) for c in columns) + " |")
    lines += ["", *(f"- **{r}**: {SETTING_NOTES.get(r, r)}" for r in table), ""]
    lines += [
        "## Beyond the seed spread?",
        "",
        "Paired by seed: a difference holds when it has the same sign in every seed and its mean exceeds its "
        "standard deviation; with one seed nothing does.",
        "",
        *comparisons(table),
        "",
        "![means](report.png)",
        "",
        "## Seeds",
        "",
        "| seed | report | seconds |",
        "|---:|---|---:|",
        *(f"| {s} | [seed-{s}/report.md](seed-{s}/report.md) | {seconds[s]:.0f} |" for s in seeds),
        f"| all | | {sum(seconds.values()):.0f} |",
    ]
    report = write_text_atomic(out / "report.md", "\n".join(lines) + "\n")
    write_text_atomic(
        out / "results.json",
        json.dumps({"seeds": list(seeds), "rows": table, "seconds": seconds}, indent=2) + "\n",
    )
    logger.info("seed report: %s", report)
    return report, png


def _finished(single: ExperimentConfig) -> bool:
    """Whether ``single.out`` holds a finished run of exactly this config (its report and the same settings)."""
    folder = Path(single.out)
    if not (folder / "results.json").is_file() or not (folder / "config.toml").is_file():
        return False
    return load_toml(folder / "config.toml") == tomllib.loads(dump_toml(config_to_dict(single)))


def run_seeds(config: ExperimentConfig, *, progress: bool = True) -> ExperimentResult:
    """Run the protocol once per seed of ``config.seeds`` (see the module docstring) and aggregate."""
    from defect_inspect.experiment.protocol import ExperimentResult, run_experiment

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.toml")
    per_seed: dict[int, ExperimentResult] = {}
    for seed in config.seeds:
        single = dataclasses.replace(config, seed=seed, seeds=(), out=seed_folder(out, seed))
        if _finished(single):
            # its inspection models are trained and its report written: nothing of this seed to redo
            logger.info("seed %d: reusing the finished run in %s", seed, single.out)
            continue
        logger.info("seed %d of %s", seed, list(config.seeds))
        per_seed[seed] = run_experiment(single, progress=progress)
    report, png = write_seed_report(config, config.seeds)
    return ExperimentResult(
        out,
        report,
        png,
        runs={},
        seconds={f"seed {s}": sum(r.seconds.values()) for s, r in per_seed.items()},
        per_seed=per_seed,
    )
