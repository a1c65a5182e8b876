"""Defect-Gen (Defect Spectrum, Yang et al. ECCV 2024; DESIGN.md §4b): a defect image and its class-labelled
mask generated together from noise by two networks that share one reverse process.

Public API (imported on first use, so that ``defect-sample defectgen --help`` does not load torch):

- :func:`make_scheduler` / :func:`make_ddim_scheduler`: the cosine, x0-predicting schedule (module
  :mod:`~defect_sample.defectgen.schedule` says which update runs and why);
- :func:`save_generator` / :func:`load_generator` / :class:`DefectGenerator`: the generator folder
  (``large/``, ``small/``, ``scheduler/``, ``defectgen.json``), safetensors only;
- :func:`sample_defectgen`, :class:`DefectGenSample`, :func:`denoise`, :func:`to_samples`,
  :func:`item_seed`, :func:`network_for_timestep`: two-stage sampling;
- :class:`DefectGenSampleConfig`, :func:`run_defectgen`: a whole sampling job (``defect-sample defectgen``).
"""

# ruff: noqa: F401 - see the TYPE_CHECKING block
from typing import TYPE_CHECKING

from defect_core.lazy_exports import lazy_exports

_EXPORTS = {
    "make_scheduler": "schedule",
    "make_ddim_scheduler": "schedule",
    "DefectGenerator": "generator_folder",
    "save_generator": "generator_folder",
    "load_generator": "generator_folder",
    "DefectGenSample": "two_stage",
    "denoise": "two_stage",
    "item_seed": "two_stage",
    "network_for_timestep": "two_stage",
    "sample_defectgen": "two_stage",
    "to_samples": "two_stage",
    "DefectGenSampleConfig": "config",
    "DefectGenSummary": "job",
    "run_defectgen": "job",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _EXPORTS)

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from defect_sample.defectgen.config import DefectGenSampleConfig
    from defect_sample.defectgen.generator_folder import DefectGenerator, load_generator, save_generator
    from defect_sample.defectgen.job import DefectGenSummary, run_defectgen
    from defect_sample.defectgen.schedule import make_ddim_scheduler, make_scheduler
    from defect_sample.defectgen.two_stage import (
        DefectGenSample,
        denoise,
        item_seed,
        network_for_timestep,
        sample_defectgen,
        to_samples,
    )
