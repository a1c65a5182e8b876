"""defect-train records its base model as loaded (asked for, loaded, hub commit, architecture and weights
fingerprints) in the concept card, and a hub failure stops it with the one-line error before any training."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx2
import pytest
from diffusers import StableDiffusionInpaintPipeline
from huggingface_hub.utils import hf_raise_for_status

from defect_core.concept_file import read_concept_card
from defect_sample.builtin_models import builtin_model_path
from defect_sample.hub_errors import HubModelError
from defect_sample.model_loading import model_fingerprint
from defect_sample.weights_fingerprint import weights_fingerprint
from defect_train.trainer import train_concept


def test_the_card_records_the_base_model_as_loaded(fast_config, tiny_pipe) -> None:
    config = replace(fast_config, steps=1, checkpoint_every=0)
    card = read_concept_card(train_concept(config))
    ref = card.base_model
    assert (ref.id, ref.loaded, ref.revision) == ("builtin:tiny", "builtin:tiny", None)
    # computed independently: the configs of a stock load and the files of the built-in folder
    assert ref.fingerprint == model_fingerprint(tiny_pipe.unet.config, tiny_pipe.text_encoder.config)
    assert ref.weights_fingerprint == weights_fingerprint(builtin_model_path("builtin:tiny"))
    assert card.training_config["base_model_revision"] is None
    manifest = json.loads((config.output_dir / "manifest.json").read_text())
    assert (manifest["base_model"], manifest["base_model_loaded"], manifest["base_model_revision"]) == (
        "builtin:tiny",
        "builtin:tiny",
        None,
    )


def test_a_gated_base_model_stops_training_with_the_hub_error(fast_config, monkeypatch) -> None:
    def download(cls, hub_id, **kwargs):
        url = f"https://huggingface.co/api/models/{hub_id}/revision/main"
        hf_raise_for_status(
            httpx2.Response(403, headers={"X-Error-Code": "GatedRepo"}, request=httpx2.Request("GET", url))
        )

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "download", classmethod(download))
    with pytest.raises(HubModelError, match=r"^someone/gated: gated repository.*hf auth login"):
        train_concept(replace(fast_config, base_model="someone/gated", base_model_revision="v1"))
    assert not (fast_config.output_dir / "concept.safetensors").exists()
