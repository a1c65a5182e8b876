"""DIAG's protocol on KSDD2 (Girella et al., CBMI 2024): ``run_experiment`` with ``protocol = "diag"``, the
``defect-inspect experiment --protocol diag`` command.

The data follow KSDD2's official split: every row trains DIAG's detector (``InspectConfig``'s ``diag``
preset: ResNet-50, V1 weights, Adam 1e-4, batch 32, 30 epochs, 704 × 256) and tests it after every epoch
on the official ``test/`` folder (110 defects, 894 defect-free images). Rows (:data:`DIAG_ROWS`):

- ``baseline``: the real training data only: every train positive and negative (246 / 2085);
- ``zero-shot``: the real negatives and DIAG's images, no real positive;
- ``full-shot``: all the real training data and DIAG's images;
- ``defectfill`` (ours): all the real training data and ``count`` DefectFill images (a concept learned from
  the first third of the train positives, filled into train negatives at the masks of the other two thirds
  with LFS, as the DefectFill protocol does);
- ``cut-paste`` (ours, the classic augmentation): all the real training data and ``count`` cut-paste defects
  cut from every train positive.

DIAG's images: for each prompt ("white marks on the wall", "copper metal scratches"), ``diag_count`` (50)
zero-shot images from ``diag_base_model`` (SDXL inpainting), each a random real train-positive mask on a
random train negative (seed 0), with DIAG's negative prompt, 30 steps, guidance 20, strength 0.99 and a mask
crop of 2, one candidate and no selection, generated at 1024 × 1024 and written at 224 × 632; made by
defect-sample's ``run_generation`` under its ``diag`` preset, with every DIAG setting also passed explicitly
so that this experiment's config decides them.

Every synthetic set gets its FID against the real test defects (:mod:`defect_inspect.synthetic_quality`;
Inception-v3, or the seeded random stand-in with ``synthetic_metrics = "random-network"``).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defect_core.configs import save_config
from defect_inspect.data.cut_paste import write_cut_paste_set
from defect_inspect.data.real import normal_items, open_real_dataset, real_defect_items, resolve_defects
from defect_inspect.experiment.protocol import (
    ExperimentConfig,
    ExperimentResult,
    experiment_packages,
    generate_defects,
    train_concepts,
)
from defect_inspect.training.config import InspectConfig

if TYPE_CHECKING:
    from defect_inspect.run_training import TrainResult

logger = logging.getLogger(__name__)

#: row -> (its synthetic set, or None; the real training defects it adds: none or all)
ROW_DATA: dict[str, tuple[str | None, str]] = {
    "baseline": (None, "all"),
    "zero-shot": ("diag", "none"),
    "full-shot": ("diag", "all"),
    "defectfill": ("defectfill", "all"),
    "cut-paste": ("cut-paste", "all"),
}
ROW_NOTES = {
    "baseline": "real training data only (every train positive and negative)",
    "zero-shot": "real negatives + DIAG's images, no real positive (DIAG's zero-shot)",
    "full-shot": "all real training data + DIAG's images (DIAG's full-shot)",
    "defectfill": "all real training data + DefectFill images (a concept from the first third of the train "
    "positives, filled into train negatives at the other two thirds' masks, LFS)",
    "cut-paste": "all real training data + cut-paste defects from the train positives",
}


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "prompt"


def diag_sample_settings(config: ExperimentConfig, prompt: str, defect_name: str) -> dict[str, Any]:
    """The ``SampleConfig`` values of DIAG's images for ``prompt`` (without ``out``): defect-sample's ``diag``
    preset, zero-shot on ``diag_base_model``, a random train-positive mask (``mask_split = "all"`` of the
    reader's training defects) on a random train negative, one candidate, no selection, DIAG's sampler
    settings, working and output sizes."""
    return {
        "preset": "diag",
        "prompt": prompt,
        "negative_prompt": config.diag_negative_prompt,
        "base_model": config.diag_base_model,
        "defect_name": defect_name,
        "dataset": config.dataset,
        "dataset_root": config.dataset_root,
        "object_name": config.object_name,
        "normal_split": "train",
        "mask_split": "all",
        "split_rule": config.split_rule,
        "count": config.diag_count,
        "candidates": 1,
        "select": "none",
        "steps": config.diag_steps,
        "guidance": config.diag_guidance,
        "strength": config.diag_strength,
        "padding_mask_crop": config.diag_padding_mask_crop,
        "working_size": config.diag_working_size,
        "output_size": config.diag_output_size,
        "batch_size": config.sample_batch_size,
        "seed": config.seed,
        "device": config.device,
    }


def generate_diag_images(config: ExperimentConfig, defect_name: str, progress: bool) -> tuple[Path, ...]:
    """DIAG's images, one defect-sample run per prompt into ``out/generated/diag/<prompt>/`` (each resumes by
    itself); returns the folders."""
    _, defect_sample = experiment_packages()
    folders = []
    for prompt in config.diag_prompts:
        out = config.out / "generated" / "diag" / _slug(prompt)
        settings = diag_sample_settings(config, prompt, defect_name)
        summary = defect_sample.run_generation(
            defect_sample.SampleConfig(out=out, **settings), progress=progress
        )
        logger.info("DIAG %r: %d written, %d reused -> %s", prompt, summary.written, summary.skipped, out)
        folders.append(out)
    return tuple(folders)


def make_diag_cut_paste(config: ExperimentConfig, reader, defects: list[str]) -> tuple[Path, ...]:
    """``count`` cut-paste defects per type, cut from every real train positive onto the train negatives,
    into ``out/cut_paste/diag/<defect>/`` (the folder names the items' defect type)."""
    normals = [item.image for item in normal_items(reader, config.object_name, "train")]
    folders = []
    for defect in defects:
        sources = real_defect_items(reader, config.object_name, "all", [defect], config.split_rule)
        folder = config.out / "cut_paste" / "diag" / defect
        write_cut_paste_set(sources, normals, folder, count=config.count, seed=config.seed)
        folders.append(folder)
    return tuple(folders)


def detector_config(config: ExperimentConfig, row: str, train: tuple[Path, ...]) -> InspectConfig:
    """DIAG's detector (``InspectConfig.from_preset("diag")``) on ``row``'s data, with the experiment's
    training settings, tested on the official test split after every epoch."""
    _, real_train = ROW_DATA[row]
    return InspectConfig.from_preset(
        "diag",
        model=config.detector,
        input_size=config.detector_input_size,
        pretrained=config.pretrained,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        val_fraction=config.val_fraction,
        patience=config.patience,
        train=train,
        real_train=real_train,
        dataset=config.dataset,
        dataset_root=config.dataset_root,
        object_name=config.object_name,
        defects=config.defects,
        split_rule=config.split_rule,
        device=config.device,
        seed=config.seed,
        out=config.out / "runs" / row / "detector",
    )


def synthetic_fid(
    config: ExperimentConfig, reader, defects: list[str], sets: dict[str, tuple[Path, ...]]
) -> tuple[dict[str, float], str]:
    """FID of every synthetic set (all its images together) against the real test defects, and which
    features measured it."""
    from defect_inspect.data.generated import read_generation_output
    from defect_inspect.synthetic_quality import FeatureNetwork, fid_against
    from defect_metrics import resolve_device

    device = resolve_device(config.device)
    network = FeatureNetwork.load(config.synthetic_metrics, device=device)
    test_defects = [i.image for i in real_defect_items(reader, config.object_name, "test", defects)]
    reference = network.features(test_defects, device)
    scores = {}
    for name, folders in sets.items():
        images = [item.image for folder in folders for item in read_generation_output(folder)]
        scores[name] = fid_against(images, reference, network, device)
        logger.info("%s: FID %.3f against %d real test defects", name, scores[name], len(test_defects))
    return scores, network.describe()


def run_diag_experiment(config: ExperimentConfig, *, progress: bool = True) -> ExperimentResult:
    """Run the rows of the module docstring and write the report; return what was written."""
    from defect_inspect.experiment.diag_report import write_diag_report
    from defect_inspect.run_training import train_inspection_model

    experiment_packages()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.toml")
    reader = open_real_dataset(config.dataset, config.dataset_root, config.object_name, config.defects)
    defects = resolve_defects(reader, config.object_name, config.defects)
    rows = list(config.settings)
    needed = {ROW_DATA[row][0] for row in rows} - {None}
    seconds: dict[str, float] = {}
    sets: dict[str, tuple[Path, ...]] = {}
    if "diag" in needed:
        started = time.perf_counter()
        # KSDD2 has one defect category: DIAG's images of both prompts are defects of it
        sets["diag"] = generate_diag_images(config, defects[0], progress)
        seconds["generation:diag"] = time.perf_counter() - started
    if "defectfill" in needed:
        started = time.perf_counter()
        concepts = train_concepts(config, defects)
        seconds["concepts:defectfill"] = time.perf_counter() - started
        started = time.perf_counter()
        sets["defectfill"] = (generate_defects(config, "defectfill", concepts, progress),)
        seconds["generation:defectfill"] = time.perf_counter() - started
    if "cut-paste" in needed:
        started = time.perf_counter()
        sets["cut-paste"] = make_diag_cut_paste(config, reader, defects)
        seconds["cut-paste"] = time.perf_counter() - started

    fids: dict[str, float] = {}
    networks = ""
    if config.synthetic_metrics != "off" and sets:
        started = time.perf_counter()
        fids, networks = synthetic_fid(config, reader, defects, sets)
        seconds["FID"] = time.perf_counter() - started

    runs: dict[tuple[str, str], TrainResult] = {}
    for row in rows:
        started = time.perf_counter()
        synthetic, _ = ROW_DATA[row]
        logger.info("training DIAG's detector on %s", row)
        runs[(row, "detector")] = train_inspection_model(
            detector_config(config, row, sets.get(synthetic, ()) if synthetic else ()), progress=progress
        )
        seconds[f"inspect:{row}"] = time.perf_counter() - started

    report, report_png = write_diag_report(config, runs, seconds, fids, networks)
    return ExperimentResult(out, report, report_png, runs, seconds, fid=fids)
