"""``ReviewSession``: the review app without its page. Pick, draw, generate, decide; everything on disk.

The page (``defect_sample.review.app``) is a thin layer over this class, and tests drive the same flow
through it without a browser. One session serves one output folder:

- an accepted candidate is written by ``defect_core.output_layout.GenerationWriter``, the writer of the
  ``defect-sample`` command (``defect/``, ``mask/``, a ``SampleRecord`` in ``manifest.jsonl``);
- every decision is appended to ``review.jsonl`` (:class:`ReviewLog`);
- generations waiting for decisions live in ``review_pending/`` (:class:`PendingGenerations`).

Order of the writes for an accepted candidate: the item (manifest line last), then the decision, then the
pending file goes. A kill at any point loses at most that one candidate's decision: on restart an item
that reached the manifest without its decision gets the decision appended, and image files that never
reached the manifest are removed, so the candidate is simply undecided again.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic
from defect_core.concept_file import read_concept_card
from defect_core.errors import InputFileError
from defect_core.images import list_images, load_rgb, mask_to_image
from defect_core.masks import validate_mask
from defect_core.output_layout import DEFECT_DIR, MASK_DIR, GenerationWriter
from defect_core.sample_record import SampleRecord
from defect_sample.devices import resolve_device
from defect_sample.generate import remove_stale_temp_files
from defect_sample.job_plan import slug
from defect_sample.pipeline import (
    ZERO_SHOT_GUIDANCE_SCALE,
    ZERO_SHOT_STEPS,
    DefectFillPipeline,
)
from defect_sample.review import regions
from defect_sample.review.config import ReviewConfig
from defect_sample.review.dataset_masks import DatasetMasks
from defect_sample.review.feedback import Feedback, KidResult, accepted_set_kid, summarize
from defect_sample.review.folders import AllowedFolders
from defect_sample.review.pending import PendingGenerations
from defect_sample.review.records import (
    ACCEPTED,
    FLAGGED,
    STATUSES,
    GenerationInfo,
    ReviewRecord,
    candidate_id,
    utc_now,
)
from defect_sample.review.review_log import ReviewLog
from defect_sample.review.uploads import UploadLimits, read_upload
from defect_sample.sampler import DEFAULT_GUIDANCE_SCALE, DEFAULT_STEPS
from defect_sample.selection import CandidateSelector, create_selector

logger = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"
UPLOAD_PREFIX = "upload/"
FLAGGED_DIR = "flagged"
MAX_CANDIDATES = 16
BATCH_SIZE = 8
"""Candidates per UNet call (memory), as ``defect-sample --batch-size``."""
RECOVERED_REASON = "recovered on restart: the item was written before the app stopped"

StepCallback = Callable[[int, int], None]
"""``on_step(done, total)``: denoising progress, in UNet calls."""


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: the picked normal image (a name from :meth:`ReviewSession.normal_names`), the
    region (bool (H, W) at that image's size) and where it came from, a loaded concept id or a prompt, and
    the settings; ``None`` steps / guidance take the mode's defaults (DefectFill 50 / 1.0, DIAG 30 / 20)."""

    normal: str
    mask: np.ndarray
    mask_source: str = "drawn"
    concept: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    defect_name: str = "defect"
    candidates: int = 4
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    parent: int | None = None
    background_replacement: bool = True
    pixel_composite: bool = False


@dataclass
class Generation:
    """A generation in the session: its info, the working-size normal image and mask, the candidate images
    (``None`` for one decided before a restart) and the decisions taken so far (index → record)."""

    info: GenerationInfo
    normal: Image.Image
    mask: np.ndarray
    candidates: list[Image.Image | None]
    decisions: dict[int, ReviewRecord] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.info.generation

    def undecided(self) -> list[int]:
        """Indices of the candidates still waiting for a decision."""
        return [k for k in range(self.info.candidates) if k not in self.decisions]

    def status(self, index: int) -> str | None:
        record = self.decisions.get(index)
        return None if record is None else record.status


def review_item_id(info: GenerationInfo, index: int) -> str:
    """The file stem of an accepted candidate: ``<defect>_g<generation>_c<index>``, e.g. ``scratch_g00012_c3``
    (the ``defect-sample`` command's stems are ``<defect>_<index>``, so both can share a folder)."""
    return f"{slug(info.defect_name)}_g{info.generation:05d}_c{index}"


@contextmanager
def _unet_progress(unet, total: int, on_step: StepCallback | None) -> Iterator[None]:
    # the sampler calls the UNet once per step and batch of candidates: counting the calls is the progress
    if on_step is None:
        yield
        return
    calls = 0

    def hook(module, args, output) -> None:
        nonlocal calls
        calls += 1
        on_step(min(calls, total), total)

    handle = unet.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class ReviewSession:
    """The review app's state and actions over one output folder (see the module docstring)."""

    def __init__(
        self,
        config: ReviewConfig,
        *,
        pipeline: DefectFillPipeline | None = None,
        selector: CandidateSelector | None = None,
    ) -> None:
        """Check the folders, load the model and concepts (or use ``pipeline``), then resume the folder.

        ``selector`` replaces the LFS metric named by ``config.select`` (tests pass their own).
        """
        self.config = config
        self.out_dir = Path(config.out).expanduser().resolve()
        self.normals_dir = Path(config.normals).expanduser().resolve()
        # a built-in dataset has no --dataset-root: its folder in the cache is the one to read
        self.dataset_masks = (
            DatasetMasks(config.dataset, config.dataset_root, config.object_name, config.defect_name)
            if config.dataset
            else None
        )
        dataset_root = self.dataset_masks.root if self.dataset_masks is not None else None
        self.folders = AllowedFolders(
            read=[self.normals_dir, dataset_root, config.real, *config.concept], write=self.out_dir
        )
        self.limits = UploadLimits(config.upload_limit_bytes, config.max_upload_side)
        list_images(self.normals_dir)  # a missing folder fails here, naming it
        if config.real is not None:
            list_images(config.real)
        cards = [read_concept_card(p) for p in config.concept]
        self.model_id = config.base_model or cards[0].base_model.id
        device = resolve_device(config.device) if pipeline is None else pipeline.device
        # before the model loads: missing LPIPS weights fail in a second, not after minutes of loading
        self.selector = selector or create_selector(config.select, device, config.lpips_weights)
        self.pipeline = pipeline or DefectFillPipeline.from_pretrained(
            self.model_id, device=device, dtype=config.dtype
        )
        self.concepts = {}
        for path in config.concept:
            known = [c for c in self.pipeline.concepts.concepts if c.path.resolve() == path.resolve()]
            loaded = known[0] if known else self.pipeline.load_concept(path, force=config.force)
            self.concepts[loaded.concept_id] = loaded

        self.writer = GenerationWriter(self.out_dir)
        self.log = ReviewLog(self.out_dir)
        self.pending = PendingGenerations(self.out_dir)
        self.uploads_dir = self.out_dir / UPLOADS_DIR
        self.generations: dict[int, Generation] = {}
        self.next_generation = 1
        self._lock = threading.RLock()
        self._generate_lock = threading.Lock()
        self.recovered = self._resume()

    # -- resuming ---------------------------------------------------------------------------------------

    def _resume(self) -> int:
        """Load the pending generations and settle what a kill left half done; returns how many accepted
        items got their missing decision back."""
        remove_stale_temp_files(self.out_dir)
        latest = self.log.latest()
        finished = self.writer.finished_item_ids()
        seen = [r.generation.generation for r in latest.values()]
        recovered = 0
        for staged in self.pending.load_all():
            info = staged.info
            seen.append(info.generation)
            generation = Generation(
                info, staged.normal, staged.mask, [staged.candidates.get(k) for k in range(info.candidates)]
            )
            for k in range(info.candidates):
                cid = candidate_id(info.generation, k)
                item_id = review_item_id(info, k)
                if cid not in latest and item_id in finished:
                    latest[cid] = self._record(generation, k, ACCEPTED, RECOVERED_REASON, item_id)
                    self.log.append(latest[cid])
                    recovered += 1
                if cid in latest:
                    generation.decisions[k] = latest[cid]
                    generation.candidates[k] = None
                    self.pending.discard_candidate(info.generation, k)
                else:
                    self._remove_unlisted_item(item_id)
            if generation.undecided():
                self.generations[info.generation] = generation
            else:
                self.pending.discard(info.generation)
        self.next_generation = max(seen, default=0) + 1
        if recovered:
            logger.warning(
                "%d accepted item(s) had no decision in review.jsonl (the app stopped between the "
                "two writes); their decisions were appended",
                recovered,
            )
        return recovered

    def _remove_unlisted_item(self, item_id: str) -> None:
        # image files of an accept that was killed before its manifest line: not an item, and not to be
        # read as one by tools that list defect/ (the candidate itself is still pending)
        for folder in (DEFECT_DIR, MASK_DIR):
            path = self.out_dir / folder / f"{item_id}.png"
            if path.is_file():
                logger.info("removing %s: written by an accept that did not finish", path)
                path.unlink()

    # -- normal images ----------------------------------------------------------------------------------

    def normal_names(self) -> list[str]:
        """The normal images offered: file names in ``--normals``, then ``upload/<name>`` for uploads."""
        names = [p.name for p in list_images(self.normals_dir)]
        if self.uploads_dir.is_dir():
            names += [UPLOAD_PREFIX + p.name for p in list_images(self.uploads_dir)]
        return names

    def normal_path(self, name: str) -> Path:
        """The file of an offered normal image; a name that leads outside the folders is refused."""
        base, rel = (
            (self.uploads_dir, name.removeprefix(UPLOAD_PREFIX))
            if name.startswith(UPLOAD_PREFIX)
            else (self.normals_dir, name)
        )
        path = self.folders.readable(base / rel)
        if path.parent != base.resolve() or name not in self.normal_names():
            raise InputFileError(Path(name), "is not one of the normal images this app offers")
        return path

    def load_normal(self, name: str) -> Image.Image:
        """The normal image ``name``, RGB at its own size."""
        return load_rgb(self.normal_path(name))

    def upload_normal(self, path: str | Path, name: str | None = None) -> str:
        """Check an uploaded normal image (limits, full decode) and keep it in ``out/uploads/``; returns the
        name it is offered under. Nothing is written when the check fails."""
        image = read_upload(path, self.limits, name).convert("RGB")
        digest = hashlib.sha256(image.tobytes()).hexdigest()[:12]
        stem = slug(Path(name or Path(path).name).stem)
        target = self.folders.writable(self.uploads_dir / f"{stem}-{digest}.png")
        if not target.is_file():
            save_image_atomic(image, target)
        return UPLOAD_PREFIX + target.name

    # -- regions ----------------------------------------------------------------------------------------

    def region_from_layers(self, normal: str, layers) -> np.ndarray:
        """The region painted in the editor (its RGBA layers) on the normal image ``normal``."""
        return regions.mask_from_layers(layers, self.load_normal(normal).size)

    def region_from_upload(self, normal: str, path: str | Path, name: str | None = None) -> np.ndarray:
        """An uploaded mask; it must have the normal image's size (see :func:`regions.mask_from_upload`)."""
        return regions.mask_from_upload(
            path, self.load_normal(normal).size, self.config.mask_threshold, self.limits, name
        )

    def region_from_shape(self, normal: str, kind: str, seed: int) -> np.ndarray:
        """A generated ``kind`` shape placed on the object of the normal image (``--shapes``)."""
        return regions.shape_region(kind, self.load_normal(normal), seed, self.config.shape_size)

    def region_from_points(self, normal: str, points) -> np.ndarray:
        """The rectangle (two points) or polygon (three or more) through clicked points (x, y)."""
        return regions.polygon_region(points, self.load_normal(normal).size)

    def dataset_mask_names(self) -> list[str]:
        """``<defect>/<file>`` of the real masks of ``--dataset`` (empty without one)."""
        return self.dataset_masks.names() if self.dataset_masks else []

    def region_from_dataset(self, normal: str, name: str) -> np.ndarray:
        """The real mask ``name``, resized to the normal image."""
        if self.dataset_masks is None:
            raise ValueError("no dataset was given (--dataset, --dataset-root, --object-name)")
        self.folders.readable(self.dataset_masks.path(name))
        return self.dataset_masks.region(name, self.load_normal(normal).size)

    # -- generating -------------------------------------------------------------------------------------

    def defaults(self, concept: str | None) -> tuple[int, float]:
        """Steps and guidance of a mode: the config's, else DefectFill's (concept) or DIAG's (prompt)."""
        steps = self.config.steps or (DEFAULT_STEPS if concept else ZERO_SHOT_STEPS)
        guidance = (
            self.config.guidance
            if self.config.guidance is not None
            else (DEFAULT_GUIDANCE_SCALE if concept else ZERO_SHOT_GUIDANCE_SCALE)
        )
        return steps, guidance

    def generate(self, request: GenerationRequest, on_step: StepCallback | None = None) -> Generation:
        """Generate ``request.candidates`` candidates, score them (LFS) and keep them pending on disk.

        Raises ``ValueError`` (an :class:`InputFileError` for a bad file or region) before anything is
        generated or written when the request is not usable.
        """
        normal_path = self.normal_path(request.normal)
        normal = load_rgb(normal_path)
        mask = validate_mask(np.asarray(request.mask, dtype=bool), normal.size, "<region>")
        concept = None
        if request.concept:
            if request.concept not in self.concepts:
                raise ValueError(
                    f"no loaded concept {request.concept!r}; loaded: {', '.join(self.concepts) or 'none'}"
                )
            concept = self.concepts[request.concept]
        prompt = (request.prompt or "").strip() or None
        if concept is None and prompt is None:
            raise ValueError("write a prompt that describes the defect, or choose a learned concept")
        if not 1 <= request.candidates <= MAX_CANDIDATES:
            raise ValueError(f"candidates must be in 1..{MAX_CANDIDATES}, got {request.candidates}")
        if request.seed < 0:
            raise ValueError(f"seed must be >= 0, got {request.seed}")
        steps, guidance = self.defaults(request.concept)
        steps = request.steps or steps
        guidance = guidance if request.guidance is None else float(request.guidance)
        if steps < 1 or guidance < 0:
            raise ValueError(f"steps must be >= 1 and guidance >= 0, got {steps} and {guidance}")
        native = self.pipeline.base.unet.config.sample_size * self.pipeline.base.vae_scale_factor
        resolution = self.config.resolution or (native if concept is None else concept.card.resolution)
        negative = (request.negative_prompt or "").strip() or None
        defect_name = (
            concept.card.defect_name
            if concept is not None
            else (request.defect_name or "").strip() or self.config.defect_name
        )

        if request.parent is not None and not 1 <= request.parent < self.next_generation:
            raise ValueError(f"parent generation {request.parent} does not exist")
        total = steps * math.ceil(request.candidates / BATCH_SIZE)
        # one generation at a time; decisions about earlier ones go on meanwhile (they take self._lock only)
        with self._generate_lock, _unet_progress(self.pipeline.base.unet, total, on_step):
            out = self.pipeline(
                image=normal,
                mask=mask,
                concept=concept,
                prompt=None if concept is not None else prompt,
                negative_prompt=negative,
                num_candidates=request.candidates,
                select=self.selector,
                num_inference_steps=steps,
                guidance_scale=guidance,
                seed=request.seed,
                batch_size=BATCH_SIZE,
                resolution=resolution,
                background_replacement=request.background_replacement,
                pixel_composite=request.pixel_composite,
            )
        with self._lock:
            number = self.next_generation
            info = GenerationInfo(
                generation=number,
                source_image=normal_path,
                mask_source=request.mask_source,
                defect_name=defect_name,
                base_model=self.model_id,
                seed=request.seed,
                steps=steps,
                guidance=guidance,
                candidates=request.candidates,
                size=out.images[0].size,
                concept=None if concept is None else concept.concept_id,
                prompt=None if concept is not None else prompt,
                negative_prompt=negative,
                parent=request.parent,
                selection_metric=self.selector.name,
                scores=out.scores[0],
                lfs_index=out.selected[0],
                background_replacement=request.background_replacement,
                pixel_composite=request.pixel_composite,
                created=utc_now(),
            )
            self.pending.save(info, out.normals[0], out.masks[0], out.candidates[0])
            self.next_generation = number + 1
            generation = Generation(info, out.normals[0], out.masks[0], list(out.candidates[0]))
            self.generations[number] = generation
        return generation

    # -- deciding ---------------------------------------------------------------------------------------

    def _record(
        self, generation: Generation, index: int, status: str, reason: str, item_id: str | None
    ) -> ReviewRecord:
        return ReviewRecord(
            candidate_id=candidate_id(generation.id, index),
            candidate_index=index,
            status=status,
            generation=generation.info,
            time=utc_now(),
            reason=reason.strip(),
            item_id=item_id,
        )

    def _sample_record(self, generation: Generation, index: int, item_id: str) -> SampleRecord:
        from defect_sample import __version__

        info = generation.info
        sampler_prompt = (
            info.prompt if info.concept is None else self.pipeline.concept_prompt(self.concepts[info.concept])
        )
        return SampleRecord(
            item_id=item_id,
            image=Path(),
            mask=Path(),
            source_image=info.source_image,
            mask_source=info.mask_source,
            defect_name=info.defect_name,
            seed=info.seed,
            base_model=info.base_model,
            concept=info.concept,
            prompt=info.prompt,
            candidate_index=index,
            selection_metric=info.selection_metric,
            scores=info.scores,
            sampler={
                "scheduler": "DDIM",
                "steps": info.steps,
                "guidance_scale": info.guidance,
                "candidates": info.candidates,
                "size": list(info.size),
                "prompt": sampler_prompt,
                "negative_prompt": info.negative_prompt,
                "background_replacement": info.background_replacement,
                "pixel_composite": info.pixel_composite,
                "dtype": str(self.pipeline.sampler.dtype),
                "review": candidate_id(info.generation, index),
            },
            package_version=__version__,
        )

    def decide(self, generation: int, index: int, status: str, reason: str = "") -> ReviewRecord:
        """Accept, reject or flag (with a reason) one candidate; returns the decision as recorded.

        Accepted: written to ``defect/`` + ``mask/`` + ``manifest.jsonl`` as ``defect-sample`` writes items.
        Flagged: its image and mask kept in ``flagged/`` for a second look. Rejected: kept nowhere. A
        decision is final: the candidate's pending file goes once its decision is recorded.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with self._lock:
            gen = self.generations.get(generation)
            if gen is None:
                raise ValueError(f"generation {generation} is not pending in this session")
            if not 0 <= index < gen.info.candidates:
                raise ValueError(
                    f"generation {generation} has candidates 0..{gen.info.candidates - 1}, not {index}"
                )
            if index in gen.decisions:
                raise ValueError(
                    f"candidate {candidate_id(generation, index)} is already "
                    f"{gen.decisions[index].status}; decisions are final"
                )
            if status == FLAGGED and not reason.strip():
                raise ValueError("a flag needs a reason: say what to look at")
            image = gen.candidates[index]
            if image is None:
                raise ValueError(f"candidate {candidate_id(generation, index)} has no image any more")
            item_id = review_item_id(gen.info, index) if status == ACCEPTED else None
            record = self._record(gen, index, status, reason, item_id)
            if status == ACCEPTED:
                self.writer.write_item(self._sample_record(gen, index, item_id), image, gen.mask)
            elif status == FLAGGED:
                folder = self.out_dir / FLAGGED_DIR
                save_image_atomic(image, folder / f"{record.candidate_id}.png")
                save_image_atomic(mask_to_image(gen.mask), folder / f"{record.candidate_id}_mask.png")
            self.log.append(record)
            gen.decisions[index] = record
            self.pending.discard_candidate(generation, index)
            if not gen.undecided():
                self.pending.discard(generation)
        return record

    def pending_ids(self) -> list[int]:
        """Generations with undecided candidates, oldest first."""
        return [g for g, gen in sorted(self.generations.items()) if gen.undecided()]

    # -- feedback ---------------------------------------------------------------------------------------

    def decisions(self) -> list[ReviewRecord]:
        """The latest decision of every decided candidate, in the order they were first decided."""
        return list(self.log.latest().values())

    def feedback(self) -> Feedback:
        """Acceptance per prompt / concept and accepted items per defect type."""
        return summarize(self.decisions())

    def accepted_images(self) -> list[Path]:
        """Image files of the accepted items that are in the manifest."""
        accepted = {r.item_id for r in self.decisions() if r.status == ACCEPTED}
        return [r.image for r in self.writer.records() if r.item_id in accepted]

    def kid(self) -> KidResult:
        """KID of the accepted set against ``--real`` (features: ``--kid-features``)."""
        if self.config.real is None:
            raise ValueError("no folder of real defect images was given (--real DIR)")
        real = [self.folders.readable(p) for p in list_images(self.config.real)]
        device = str(self.pipeline.device)
        return accepted_set_kid(self.accepted_images(), real, self.config.kid_features, device)
