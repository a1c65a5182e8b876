"""Applying concept files to a loaded inpainting pipeline as named LoRA adapters.

A concept file (``defect_core.concept_file``) holds LoRA tensors in diffusers' layout (``unet.…``,
``text_encoder.…``) with the LoRA scale alpha / r already folded into the up (``lora_B``) matrices, so that
it loads with diffusers' default alpha = r: ``pipe.load_lora_weights(path)`` gives the same model as this
module. Several concepts share one base model: each is one adapter, and switching concepts switches the
active adapter (no reload).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from defect_core.concept_card import BaseModelRef, ConceptCard
from defect_core.concept_file import load_concept
from defect_core.errors import ConceptFileError
from defect_sample.model_loading import identify_pipeline
from defect_sample.quiet_loading import library_progress_bars_off

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedConcept:
    """A concept applied to a pipeline: its adapter name, file and card."""

    adapter_name: str
    path: Path
    card: ConceptCard

    @property
    def concept_id(self) -> str:
        """``<object>/<defect>``, as recorded in manifests."""
        return self.card.concept_id


def check_concept_base(card: ConceptCard, path: str | Path, base: BaseModelRef, force: bool = False) -> None:
    """Raise :class:`ConceptFileError` if the concept was trained on another base model than ``base``.

    Identity is the architecture fingerprint plus the weights fingerprint, never the id: the same weights
    under a mirror's id or in a local folder are fine, a fine-tune of the same architecture is not. A card
    of format 1 has no weights fingerprint; it is checked on the architecture alone. ``force`` turns the
    error into a warning.
    """
    trained = card.base_model
    if trained.fingerprint != base.fingerprint:
        difference = (
            f"fingerprint {trained.fingerprint}), but the loaded base model {base.id!r} has fingerprint "
            f"{base.fingerprint}: another architecture"
        )
    elif (
        trained.weights_fingerprint
        and base.weights_fingerprint
        and trained.weights_fingerprint != base.weights_fingerprint
    ):
        difference = (
            f"weights fingerprint {trained.weights_fingerprint}), but the loaded base model {base.id!r} "
            f"has weights fingerprint {base.weights_fingerprint}: the same architecture with other "
            "weights (a fine-tune or another checkpoint)"
        )
    else:
        if trained.weights_fingerprint is None or base.weights_fingerprint is None:
            logger.debug(
                "%s: base model checked on its architecture only (no weights fingerprint on %s)",
                path,
                "the concept's card" if trained.weights_fingerprint is None else "the loaded model",
            )
        return
    problem = (
        f"concept {card.concept_id!r} was trained on base model {trained.id!r} ({difference}. Load "
        f"{trained.source!r} (--base-model), or pass --force (force=True) to apply it anyway"
    )
    if not force:
        raise ConceptFileError(path, problem)
    logger.warning("%s: %s (forced)", path, problem)


def adapter_name_for(card: ConceptCard, index: int) -> str:
    """A peft-safe adapter name (no dots), unique per load order: ``c<index>_<object>_<defect>``."""
    slug = re.sub(r"[^0-9A-Za-z_]+", "_", f"{card.object_name}_{card.defect_name}").strip("_")
    return f"c{index}_{slug}"


@contextmanager
def _quiet_transformers_load_report() -> Iterator[None]:
    # transformers' adapter loading logs a "LOAD REPORT" listing base weights of the text encoder as
    # MISSING / newly initialised; they are not touched (tests/sample/test_sample_concepts.py checks the
    # base output is unchanged), so the report would only alarm users
    loggers = [
        logging.getLogger(name)
        for name in ("transformers.integrations.peft", "transformers.utils.loading_report")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class ConceptAdapters:
    """The concepts applied to one pipeline; at most one is active at a time.

    >>> adapters = ConceptAdapters(pipe, model_id="builtin:tiny")  # doctest: +SKIP
    >>> crack = adapters.load("crack.safetensors")                   # doctest: +SKIP
    >>> adapters.activate(crack); adapters.deactivate()              # doctest: +SKIP
    """

    def __init__(self, pipe, model_id: str, base_model: BaseModelRef | None = None) -> None:
        """``base_model``: the pipeline's identity as its loader computed it (default: computed here from the
        pipeline, which must not carry LoRA layers yet, and the folder diffusers loaded it from)."""
        self.pipe = pipe
        self.model_id = str(model_id)
        self.base_model = base_model or identify_pipeline(pipe, self.model_id)
        self.fingerprint = self.base_model.fingerprint
        self.concepts: list[LoadedConcept] = []
        self.active: LoadedConcept | None = None

    def load(self, path: str | Path, *, force: bool = False) -> LoadedConcept:
        """Check a concept file's card against the base model and add its LoRA as a new adapter.

        The new adapter is not left active: call :meth:`activate`. Raises :class:`ConceptFileError` naming
        the file for an unreadable file, a card of another base model (unless ``force``), or tensors that
        do not fit the model.
        """
        path = Path(path)
        concept = load_concept(path)
        check_concept_base(concept.card, path, self.base_model, force=force)
        name = adapter_name_for(concept.card, len(self.concepts))
        param = next(self.pipe.unet.parameters())
        state_dict = {
            k: torch.from_numpy(v).to(device=param.device, dtype=param.dtype)
            for k, v in concept.tensors.items()
        }
        try:
            with _quiet_transformers_load_report(), library_progress_bars_off(), warnings.catch_warnings():
                # several adapters in one model is the point here
                warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
                self.pipe.load_lora_weights(state_dict, adapter_name=name)
        except (ValueError, RuntimeError, KeyError, TypeError) as exc:
            raise ConceptFileError(
                path, f"its LoRA tensors do not fit base model {self.model_id!r} ({exc})"
            ) from exc
        loaded = LoadedConcept(adapter_name=name, path=path, card=concept.card)
        self.concepts.append(loaded)
        logger.info("loaded concept %s from %s as adapter %s", loaded.concept_id, path, name)
        self.deactivate()
        return loaded

    def find(self, key: str | LoadedConcept) -> LoadedConcept:
        """A loaded concept by itself, adapter name, concept id (``object/defect``) or file path."""
        if isinstance(key, LoadedConcept):
            return key
        for c in self.concepts:
            if key in (c.adapter_name, c.concept_id, str(c.path)):
                return c
        known = ", ".join(c.concept_id for c in self.concepts) or "(none loaded)"
        raise KeyError(f"no loaded concept {key!r}; loaded: {known}")

    def activate(self, key: str | LoadedConcept) -> LoadedConcept:
        """Make one concept's adapter the only active one (UNet and text encoder)."""
        concept = self.find(key)
        self.pipe.enable_lora()
        self.pipe.set_adapters([concept.adapter_name])
        self.active = concept
        return concept

    def deactivate(self) -> None:
        """Turn every adapter off: the base model as loaded (zero-shot mode)."""
        if self.concepts:
            self.pipe.disable_lora()
        self.active = None


def apply_concepts(
    pipe,
    paths: list[str | Path],
    *,
    model_id: str,
    force: bool = False,
    base_model: BaseModelRef | None = None,
) -> ConceptAdapters:
    """Load several concept files into ``pipe`` (see :class:`ConceptAdapters`); none is left active."""
    adapters = ConceptAdapters(pipe, model_id, base_model)
    for path in paths:
        adapters.load(path, force=force)
    return adapters
