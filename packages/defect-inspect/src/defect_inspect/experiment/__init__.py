"""The whole protocol (train concepts, generate, train and test inspection models, report): ``protocol`` runs
it, ``report`` writes its table. Needs the ``experiment`` extra (defect-train and defect-sample)."""

from defect_inspect.experiment.protocol import (
    DEMO_PRESET,
    DIAG_PRESET,
    DIAG_ROWS,
    PRESETS,
    PROTOCOL_PRESETS,
    VARIANTS,
    ExperimentConfig,
    concept_set,
    generate_defects,
    run_experiment,
    train_concepts,
)

__all__ = [
    "DEMO_PRESET",
    "DIAG_PRESET",
    "DIAG_ROWS",
    "PRESETS",
    "PROTOCOL_PRESETS",
    "VARIANTS",
    "ExperimentConfig",
    "concept_set",
    "generate_defects",
    "run_experiment",
    "train_concepts",
]
