"""defect_sample: fill learned defect concepts (or described defects) into defect-free images, with LFS.

The public API, imported on first use (so that ``defect-sample --version`` does not load torch):

- :class:`DefectFillPipeline` / :class:`DefectFillPipelineOutput`: base model + concepts + sampler + LFS;
- :class:`DefectFillSampler` / :class:`SamplerOutput`: the DDIM sampler with background replacement;
- :class:`ConceptAdapters`, :class:`LoadedConcept`, :func:`apply_concepts`: concept files as adapters;
- :func:`create_selector`, :class:`CandidateSelector`, :class:`Selection`, :class:`LpipsScorer`: LFS;
- :class:`SampleConfig`, :func:`run_generation`, :class:`GenerationSummary`: whole generation jobs;
- :func:`plan_work_items`, :class:`WorkItem`, :func:`derive_seed`: the deterministic job plan;
- :func:`load_inpaint_pipeline`, :func:`model_fingerprint`, :class:`BaseModelError`: base models.
"""

from importlib.metadata import PackageNotFoundError, version

from defect_core.lazy_exports import lazy_exports

try:
    __version__ = version("defect-sample")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

_EXPORTS = {
    "DefectFillPipeline": "pipeline",
    "DefectFillPipelineOutput": "pipeline",
    "DefectFillSampler": "sampler",
    "SamplerOutput": "sampler",
    "ConceptAdapters": "concepts",
    "LoadedConcept": "concepts",
    "apply_concepts": "concepts",
    "CandidateSelector": "selection",
    "Selection": "selection",
    "create_selector": "selection",
    "LpipsScorer": "lpips_scorer",
    "LpipsWeightsError": "lpips_scorer",
    "SampleConfig": "config",
    "GenerationSummary": "generate",
    "run_generation": "generate",
    "WorkItem": "job_plan",
    "derive_seed": "job_plan",
    "plan_work_items": "job_plan",
    "BaseModelError": "model_loading",
    "load_inpaint_pipeline": "model_loading",
    "model_fingerprint": "model_loading",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, ["__version__", *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
