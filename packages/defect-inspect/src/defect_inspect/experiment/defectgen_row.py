"""The Defect-Gen rows of ``run_experiment`` (``--variants defectgen``): Defect-Gen (Defect Spectrum, Yang et al.
ECCV 2024) trained on the same real training third as the concepts, then sampled for the rows' training sets.

- ``defectgen``: Defect-Gen's own images and masks alone (plus the dataset's defect-free images), like every
  other generated row (``defectfill``, ``zero-shot``, ...), which train on generated defects only;
- ``defect-gen`` (:data:`~defect_inspect.experiment.defect_spectrum.DEFECT_GEN_ROW`): the real training third
  plus the same images, Defect Spectrum's "with Defect-Gen" column. ``--defect-gen DIR`` folders, when given,
  take the place of the experiment's own images in this row (a generator trained elsewhere, e.g. at the paper's
  size on a GPU).

The generator is trained once per experiment folder (``out/defectgen/``, reused while its settings match) with
``defect_train.defectgen``; ``count`` × (number of defect types) images are sampled with
``defect_sample.defectgen`` into ``out/generated/defectgen/`` (resumable). Defect-Gen draws the class of each
image itself, so the types are not balanced by construction; an item's type is the class with the most pixels
("none" for an image without a defect pixel).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from defect_core.errors import GeneratorFolderError

if TYPE_CHECKING:
    from defect_inspect.experiment.protocol import ExperimentConfig

logger = logging.getLogger(__name__)

DEFECTGEN_VARIANT = "defectgen"
"""The generated-only Defect-Gen row (its images and masks alone, like the other generated rows)."""

# card fields that must match the experiment's settings for a trained generator to be reused
_REUSE_FIELDS = (
    "size",
    "resolution",
    "steps",
    "batch_size",
    "learning_rate",
    "seed",
    "defect_names",
    "dataset",
)


def defectgen_train_config(config: ExperimentConfig):
    """The ``DefectGenTrainConfig`` of the experiment's generator: same dataset, object, types and split rule as
    the concepts (the real training third), the ``defectgen_*`` fields, run folder ``out/defectgen``."""
    from defect_train.defectgen import DefectGenTrainConfig

    return DefectGenTrainConfig(
        dataset=config.dataset,
        root=config.dataset_root,
        object_name=config.object_name,
        defect_names=config.defects,
        split_rule=config.split_rule,
        resolution=config.defectgen_resolution,
        size=config.defectgen_size,  # type: ignore[arg-type]
        switch_step=config.defectgen_switch_step,
        steps=config.defectgen_steps,
        batch_size=config.defectgen_batch_size,
        learning_rate=config.defectgen_learning_rate,
        checkpoint_every=0,
        preview_count=4,
        preview_steps=min(50, config.defectgen_sample_steps or 50),
        output_dir=Path(config.out) / "defectgen",
        seed=config.seed,
        device=config.device,
    )


def _reusable(train_config) -> bool:
    """True when ``train_config.generator_dir`` holds a finished generator trained with these settings."""
    from defect_core.configs import config_to_dict
    from defect_core.generator_card import read_generator_card

    try:
        card = read_generator_card(train_config.generator_dir)
    except GeneratorFolderError:
        return False
    saved = card.training.get("config", {})
    wanted = config_to_dict(train_config)
    return all(saved.get(k) == wanted.get(k) for k in _REUSE_FIELDS)


def train_defectgen_generator(config: ExperimentConfig) -> Path:
    """Train (or reuse) the experiment's generator; return its folder (``out/defectgen/generator``)."""
    from defect_train.defectgen import train_defectgen

    train_config = defectgen_train_config(config)
    if _reusable(train_config):
        logger.info("reusing the Defect-Gen generator %s", train_config.generator_dir)
        return train_config.generator_dir
    # images of an earlier generator cannot be resumed by this one: start that folder afresh
    stale = Path(config.out) / "generated" / DEFECTGEN_VARIANT
    if stale.exists():
        logger.info("removing %s (made by an earlier generator)", stale)
        shutil.rmtree(stale)
    logger.info(
        "training Defect-Gen (%s pair, %d px, %d steps per network)",
        config.defectgen_size,
        config.defectgen_resolution,
        config.defectgen_steps,
    )
    return Path(train_defectgen(train_config))


def generate_defectgen(config: ExperimentConfig, defects: list[str], progress: bool) -> Path:
    """Train (or reuse) the generator, then sample ``count`` images per defect type (``count × len(defects)``
    in all, with their masks and labels) into ``out/generated/defectgen``; return that folder."""
    from defect_sample.defectgen import DefectGenSampleConfig, run_defectgen

    generator = train_defectgen_generator(config)
    out = Path(config.out) / "generated" / DEFECTGEN_VARIANT
    summary = run_defectgen(
        DefectGenSampleConfig(
            generator=generator,
            out=out,
            count=config.count * len(defects),
            seed=config.seed,
            batch_size=config.sample_batch_size,
            steps=config.defectgen_sample_steps or None,
            device=config.device,
        ),
        progress=progress,
    )
    logger.info("Defect-Gen: %d written, %d reused -> %s", summary.written, summary.skipped, out)
    return out
