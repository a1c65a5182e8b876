"""``DefectFillPipeline``: fill a learned concept (or a described defect) into normal images, with LFS.

In the diffusers style: ``from_pretrained`` loads the base model (and concepts), ``__call__`` takes keyword
arguments and returns an output dataclass.

>>> pipe = DefectFillPipeline.from_pretrained("builtin:tiny", concepts=["crack.safetensors"])  # doctest: +SKIP
>>> out = pipe(image=normal, mask=mask, concept="bottle/crack", num_candidates=8, select="lpips")  # doctest: +SKIP
>>> out.images[0].save("crack.png")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from defect_core.concept_card import BaseModelRef
from defect_sample.composite import composite_outside_mask
from defect_sample.concepts import ConceptAdapters, LoadedConcept
from defect_sample.devices import resolve_device
from defect_sample.mask_crop import crop_around_mask, crop_pair, paste_back
from defect_sample.model_loading import load_base_model
from defect_sample.sampler import DEFAULT_GUIDANCE_SCALE, DEFAULT_STEPS, DefectFillSampler, item_seeds
from defect_sample.sampling_defaults import ZERO_SHOT_DEFAULTS
from defect_sample.selection import CandidateSelector, create_selector
from defect_sample.working_size import resize_image, resize_pair, working_size

logger = logging.getLogger(__name__)

CONCEPT_PROMPT = "A photo of {token}"
"""The inference prompt with a concept: our assumption, not the paper's statement. DefectFill gives its two
training prompts ("A photo of [V*]" for the defect branch, "A [Object] with [V*]" for the object branch) but
not the one it samples with; we take the defect branch's, as RealFill's inference script does ("a photo of
sks"). ``{object}`` and ``{defect}`` are also available: ``"A {object} with {token}"`` is the object branch's
(the ``defectfill-object-prompt`` row of ``defect-inspect experiment``)."""
ZERO_SHOT_GUIDANCE_SCALE = ZERO_SHOT_DEFAULTS.guidance
ZERO_SHOT_STEPS = ZERO_SHOT_DEFAULTS.steps
"""DIAG's settings (SDXL inpainting, 30 steps, guidance 20); its other defaults are in
:mod:`defect_sample.sampling_defaults`."""


@dataclass
class DefectFillPipelineOutput:
    """Per input item: the kept image, the mask it was filled at, every candidate, their LFS scores (empty
    when ``select="none"``) and the kept candidate's index. Images are PIL RGB at the generation size."""

    images: list[Image.Image]
    masks: list[np.ndarray]
    candidates: list[list[Image.Image]]
    scores: list[tuple[float, ...]]
    selected: list[int]
    normals: list[Image.Image] = field(default_factory=list)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``"auto"`` / ``None`` → float16 on CUDA, float32 elsewhere; names such as "bfloat16" accepted."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.float16 if device.type == "cuda" else torch.float32
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return value


class DefectFillPipeline:
    """A base inpainting model, the concepts applied to it, the DefectFill sampler and LFS."""

    def __init__(self, base_pipe, model_id: str, base_model: BaseModelRef | None = None) -> None:
        self.base = base_pipe
        self.model_id = str(model_id)
        self.sampler = DefectFillSampler.from_pipeline(base_pipe)
        self.concepts = ConceptAdapters(base_pipe, self.model_id, base_model)
        self._selectors: dict[str, CandidateSelector] = {}

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike,
        *,
        concepts: Sequence[str | os.PathLike] = (),
        force: bool = False,
        device: str | torch.device | None = "auto",
        dtype: str | torch.dtype | None = "auto",
        revision: str | None = None,
        progress: bool = True,
    ) -> DefectFillPipeline:
        """Load the base model (hub id, folder or ``builtin:tiny``; ``revision`` pins a hub commit) and apply
        ``concepts`` (concept files); ``progress`` shows hub download bars.

        A concept trained on another base model (architecture or weights fingerprint) is an error unless
        ``force``. ``self.concepts.base_model`` records what was asked for, loaded, and at which commit.
        """
        device = resolve_device(device)
        loaded = load_base_model(
            model, dtype=resolve_dtype(dtype, device), device=device, revision=revision, progress=progress
        )
        pipe = cls(loaded.pipe, str(model), loaded.ref)
        for path in concepts:
            pipe.load_concept(path, force=force)
        return pipe

    @property
    def device(self) -> torch.device:
        return self.sampler.device

    def load_concept(self, path: str | os.PathLike, *, force: bool = False) -> LoadedConcept:
        """Apply one more concept file as an adapter (see :class:`~defect_sample.concepts.ConceptAdapters`)."""
        return self.concepts.load(Path(path), force=force)

    def selector(
        self, select: str | CandidateSelector, lpips_weights: str | os.PathLike | None = None
    ) -> CandidateSelector:
        """A selector by name (created once, then reused) or the one given."""
        if isinstance(select, CandidateSelector):
            return select
        if select not in self._selectors:
            self._selectors[select] = create_selector(select, self.device, lpips_weights)
        return self._selectors[select]

    def concept_prompt(self, concept: LoadedConcept, template: str = CONCEPT_PROMPT) -> str:
        """``template`` filled with the concept's token, object and defect names (underscores as spaces, as
        defect-train fills the object-branch prompt: "A metal nut with sks")."""
        card = concept.card
        return template.format(
            token=card.token,
            object=card.object_name.replace("_", " "),
            defect=card.defect_name.replace("_", " "),
        )

    def __call__(
        self,
        *,
        image: Image.Image | Sequence[Image.Image],
        mask: np.ndarray | Sequence[np.ndarray],
        concept: str | LoadedConcept | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        num_candidates: int = 8,
        select: str | CandidateSelector = "lpips",
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | Sequence[int] = 0,
        batch_size: int = 8,
        resolution: int | None = None,
        background_replacement: bool = True,
        pixel_composite: bool = False,
        lpips_weights: str | os.PathLike | None = None,
        strength: float = 1.0,
        padding_mask_crop: int | None = None,
        size: tuple[int, int] | None = None,
        output_size: tuple[int, int] | None = None,
        scheduler: str = "ddim",
    ) -> DefectFillPipelineOutput:
        """Generate ``num_candidates`` candidates per (image, mask) and keep one by LFS.

        - ``image`` / ``mask``: one PIL image and bool (H, W) mask, or lists of them;
        - ``concept``: a loaded concept (object, its concept id ``object/defect`` or adapter name); its
          prompt is ``prompt`` if given, else :data:`CONCEPT_PROMPT` with its token;
        - ``concept=None``: zero-shot (DIAG) with ``prompt`` (required) and ``negative_prompt``, adapters off;
        - ``num_inference_steps`` / ``guidance_scale``: default 50 / 1.0 with a concept (DefectFill /
          RealFill), 30 / 20 zero-shot (DIAG);
        - ``resolution``: resize each pair to its working size first (long side = resolution); or ``size``
          = (W, H): resize every pair to exactly that (DIAG squashes KSDD2's 224 x 632 to 1024 x 1024);
          with neither, the sizes must already be multiples of 8;
        - ``seed``: item ``i`` uses ``seed + i``, or one seed per item;
        - ``strength`` in (0, 1]: start from the normal image's latent noised to that level, running
          ``int(steps * strength)`` steps (diffusers' meaning; DIAG: 0.99);
        - ``padding_mask_crop`` = N: generate in the mask's box plus N px, at the full working size, and
          paste the result back so that pixels outside the mask are the normal's (diffusers' meaning, see
          :mod:`defect_sample.mask_crop`; DIAG: 2). LFS scores the pasted-back candidates;
        - ``output_size`` = (W, H): resize the outputs (images, candidates and normals bicubic, masks by
          the covering rule) after selection (DIAG: back to 224 x 632);
        - ``scheduler``: ``"ddim"`` (DefectFill) or ``"model"`` (the base model's own, as DIAG);
        - ``pixel_composite``: paste the normal pixels back outside a feathered mask (see ``composite``).
        """
        images = [image] if isinstance(image, Image.Image) else list(image)
        masks = [mask] if isinstance(mask, np.ndarray) and mask.ndim == 2 else list(mask)
        if len(images) != len(masks):
            raise ValueError(f"got {len(images)} images and {len(masks)} masks")
        if concept is not None:
            loaded = self.concepts.activate(concept)
            prompt = prompt if prompt is not None else self.concept_prompt(loaded)
            steps = num_inference_steps or DEFAULT_STEPS
            guidance = DEFAULT_GUIDANCE_SCALE if guidance_scale is None else guidance_scale
        else:
            if not prompt:
                raise ValueError("zero-shot generation needs a prompt (or pass a concept)")
            self.concepts.deactivate()
            steps = num_inference_steps or ZERO_SHOT_STEPS
            guidance = ZERO_SHOT_GUIDANCE_SCALE if guidance_scale is None else guidance_scale
        if resolution is not None and size is not None:
            raise ValueError("give resolution (long side) or size (W, H), not both")
        pairs = [(im.convert("RGB"), np.asarray(m, dtype=bool)) for im, m in zip(images, masks, strict=True)]
        if resolution is not None:
            pairs = [resize_pair(im, m, working_size(im.size, resolution)) for im, m in pairs]
        elif size is not None:
            pairs = [resize_pair(im, m, (int(size[0]), int(size[1]))) for im, m in pairs]
        for i, (_, m) in enumerate(pairs):
            if not m.any():
                raise ValueError(f"mask {i} is empty (nothing to fill)")
        selector = self.selector(select, lpips_weights)
        crops = [
            None if padding_mask_crop is None else crop_around_mask(m, im.size, padding_mask_crop)
            for im, m in pairs
        ]
        inputs = [
            pair if crop is None else crop_pair(*pair, crop) for pair, crop in zip(pairs, crops, strict=True)
        ]

        # items of one size share sampler calls; others run in calls of their own
        out_candidates: list[list[Image.Image]] = [[] for _ in pairs]
        seeds = item_seeds(seed, len(pairs))
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, (im, _) in enumerate(inputs):
            by_size.setdefault(im.size, []).append(i)
        for indices in by_size.values():
            result = self.sampler(
                images=[inputs[i][0] for i in indices],
                masks=[inputs[i][1] for i in indices],
                prompt=prompt,
                negative_prompt=negative_prompt,
                num_candidates=num_candidates,
                num_inference_steps=steps,
                guidance_scale=guidance,
                seed=[seeds[i] for i in indices],
                batch_size=batch_size,
                background_replacement=background_replacement,
                strength=strength,
                scheduler=scheduler,
            )
            for i, cands in zip(indices, result.images, strict=True):
                out_candidates[i] = cands

        output = DefectFillPipelineOutput([], [], [], [], [], [])
        for (normal, m), crop, cands in zip(pairs, crops, out_candidates, strict=True):
            if crop is not None:
                cands = [paste_back(c, normal, m, crop) for c in cands]
            if pixel_composite:
                cands = [composite_outside_mask(c, normal, m) for c in cands]
            chosen = selector(cands, normal, m)
            if output_size is not None:
                target = (int(output_size[0]), int(output_size[1]))
                cands = [resize_image(c, target) for c in cands]
                normal, m = resize_pair(normal, m, target)
            output.images.append(cands[chosen.index])
            output.masks.append(m)
            output.candidates.append(cands)
            output.scores.append(chosen.scores)
            output.selected.append(chosen.index)
            output.normals.append(normal)
        return output
