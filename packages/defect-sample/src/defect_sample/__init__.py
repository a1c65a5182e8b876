"""defect_sample: fill learned defect concepts (or described defects) into defect-free images, with LFS.

The public API, imported on first use (so that ``defect-sample --version`` does not load torch):

- :class:`DefectFillPipeline` / :class:`DefectFillPipelineOutput`: base model + concepts + sampler + LFS;
- :class:`DefectFillSampler` / :class:`SamplerOutput`: the DDIM sampler with background replacement;
- :class:`ConceptAdapters`, :class:`LoadedConcept`, :func:`apply_concepts`: concept files as adapters;
- :func:`create_selector`, :class:`CandidateSelector`, :class:`Selection`, :class:`LpipsScorer`: LFS (missing
  AlexNet weights raise :class:`defect_core.errors.MissingWeightsError`);
- :class:`SampleConfig`, :func:`run_generation`, :class:`GenerationSummary`: whole generation jobs;
- :func:`plan_work_items`, :class:`WorkItem`, :func:`derive_seed`: the deterministic job plan;
- :func:`load_base_model` / :class:`LoadedBaseModel`, :func:`load_inpaint_pipeline`, :func:`model_fingerprint`,
  :func:`pipeline_fingerprint`, :func:`is_sdxl`, :class:`BaseModelError`, :class:`HubModelError`,
  :class:`RemovedHubIdWarning`: base models (Stable Diffusion 1 / 2 and SDXL inpainting; ``builtin:tiny`` and
  ``builtin:tiny-xl`` for tests);
- :func:`sample_preset`, :func:`available_sample_presets`, :data:`DIAG_PROMPTS`: named settings (``"diag"``)
  and DIAG's two KSDD2 prompts;
- :func:`resolve_device`, :func:`process_device`: the device picker of defect-sample and defect-train
  (``auto``: the GPU if there is one; one GPU per process of a multi-process launch);
- :func:`working_size`, :func:`resize_pair`: the size an image is generated or trained at (long side =
  resolution, aspect kept, multiples of 8) and an (image, mask) pair resized to it;
- the UNet-input contract of training and sampling, module :mod:`defect_sample.conditioning` (also exported
  here): :func:`vae_scale_factor`, :func:`pil_to_tensor` / :func:`tensor_to_pil` / :func:`masks_to_tensor`,
  :func:`masked_image`, :func:`latent_mask`, :func:`encode_latents`, :func:`tokenize`,
  :func:`encode_prompt_ids`, :func:`token_piece_ids` / :func:`token_positions`, :func:`unet_input` (the
  9-channel input: noisy latent, mask, masked-image latent) and :func:`prediction_target`. defect-train builds
  its batches with these, so a concept learns exactly what the sampler feeds the UNet;
- subpackage :mod:`defect_sample.defectgen`: Defect-Gen (Defect Spectrum), an image and its class labels
  from noise: the generator folder, two-stage sampling, ``defect-sample defectgen`` jobs;
- :func:`write_tiny_tokenizer_files`: the small CLIP tokenizer of the built-in models (the base-model recipe
  of defect-train writes it too).
"""

# ruff: noqa: F401 - see the TYPE_CHECKING block
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

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
    "SampleConfig": "config",
    "GenerationSummary": "generate",
    "run_generation": "generate",
    "WorkItem": "job_plan",
    "derive_seed": "job_plan",
    "plan_work_items": "job_plan",
    "BaseModelError": "model_loading",
    "LoadedBaseModel": "model_loading",
    "load_base_model": "model_loading",
    "load_inpaint_pipeline": "model_loading",
    "model_fingerprint": "model_loading",
    "pipeline_fingerprint": "model_loading",
    "is_sdxl": "model_loading",
    "sample_preset": "sampling_defaults",
    "available_sample_presets": "sampling_defaults",
    "DIAG_PROMPTS": "sampling_defaults",
    "HubModelError": "hub_errors",
    "RemovedHubIdWarning": "hub_ids",
    "resolve_device": "devices",
    "process_device": "devices",
    "working_size": "working_size",
    "resize_pair": "working_size",
    "vae_scale_factor": "conditioning",
    "pil_to_tensor": "conditioning",
    "tensor_to_pil": "conditioning",
    "masks_to_tensor": "conditioning",
    "masked_image": "conditioning",
    "latent_mask": "conditioning",
    "encode_latents": "conditioning",
    "tokenize": "conditioning",
    "encode_prompt_ids": "conditioning",
    "token_piece_ids": "conditioning",
    "token_positions": "conditioning",
    "unet_input": "conditioning",
    "prediction_target": "conditioning",
    "write_tiny_tokenizer_files": "tiny_model",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, ["__version__", *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]


# These imports are the names of __all__, which is built from _EXPORTS, so ruff's unused-import check cannot
# see them used (hence the file-level noqa); tests/test_package_arrows.py checks that they and _EXPORTS agree.
if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from defect_sample.concepts import ConceptAdapters, LoadedConcept, apply_concepts
    from defect_sample.conditioning import (
        encode_latents,
        encode_prompt_ids,
        latent_mask,
        masked_image,
        masks_to_tensor,
        pil_to_tensor,
        prediction_target,
        tensor_to_pil,
        token_piece_ids,
        token_positions,
        tokenize,
        unet_input,
        vae_scale_factor,
    )
    from defect_sample.config import SampleConfig
    from defect_sample.devices import process_device, resolve_device
    from defect_sample.generate import GenerationSummary, run_generation
    from defect_sample.hub_errors import HubModelError
    from defect_sample.hub_ids import RemovedHubIdWarning
    from defect_sample.job_plan import WorkItem, derive_seed, plan_work_items
    from defect_sample.lpips_scorer import LpipsScorer
    from defect_sample.model_loading import (
        BaseModelError,
        LoadedBaseModel,
        is_sdxl,
        load_base_model,
        load_inpaint_pipeline,
        model_fingerprint,
        pipeline_fingerprint,
    )
    from defect_sample.pipeline import DefectFillPipeline, DefectFillPipelineOutput
    from defect_sample.sampler import DefectFillSampler, SamplerOutput
    from defect_sample.sampling_defaults import DIAG_PROMPTS, available_sample_presets, sample_preset
    from defect_sample.selection import CandidateSelector, Selection, create_selector
    from defect_sample.tiny_model import write_tiny_tokenizer_files
    from defect_sample.working_size import resize_pair, working_size
