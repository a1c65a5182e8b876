"""Concept files applied as adapters: same model as the trained peft LoRA, as stock diffusers, switchable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sample_helpers import write_concept

from defect_core.errors import ConceptFileError
from defect_sample.concepts import ConceptAdapters, adapter_name_for
from defect_sample.model_loading import load_inpaint_pipeline

X = torch.randn(2, 9, 8, 8, generator=torch.Generator().manual_seed(0))
IDS = torch.randint(0, 300, (2, 77), generator=torch.Generator().manual_seed(1))


@torch.no_grad()
def forward(unet, text_encoder) -> tuple[torch.Tensor, torch.Tensor]:
    """(text embeddings, UNet output) on fixed inputs."""
    embeds = text_encoder(IDS)[0]
    return embeds, unet(X, 500, encoder_hidden_states=embeds).sample


@pytest.fixture
def fresh_pipe():
    return load_inpaint_pipeline("builtin:tiny")


@pytest.mark.parametrize("layout", ["peft", "diffusers"])
def test_loaded_concept_equals_the_trained_lora_and_stock_diffusers(
    tmp_path, base_pipe, tiny_fingerprint, fresh_pipe, layout
):
    path, trained_unet, trained_te = write_concept(
        tmp_path / "c.safetensors", base_pipe, tiny_fingerprint, seed=3, defect="crack", layout=layout
    )
    ref_embeds, ref_out = forward(trained_unet, trained_te)  # peft applies alpha / r = 2 here
    base_embeds, base_out = forward(fresh_pipe.unet, fresh_pipe.text_encoder)

    adapters = ConceptAdapters(fresh_pipe, "builtin:tiny")
    concept = adapters.load(path)
    adapters.activate(concept)
    ours_embeds, ours_out = forward(fresh_pipe.unet, fresh_pipe.text_encoder)
    torch.testing.assert_close(ours_embeds, ref_embeds, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours_out, ref_out, atol=1e-5, rtol=1e-5)
    assert (ours_out - base_out).abs().max() > 1e-2  # the concept changes the model

    stock = load_inpaint_pipeline("builtin:tiny")
    stock.load_lora_weights(str(path))  # the plain diffusers call a user would make
    torch.testing.assert_close(forward(stock.unet, stock.text_encoder)[1], ref_out, atol=1e-5, rtol=1e-5)

    adapters.deactivate()  # back to the base model exactly, text encoder included
    off_embeds, off_out = forward(fresh_pipe.unet, fresh_pipe.text_encoder)
    torch.testing.assert_close(off_embeds, base_embeds, atol=0, rtol=0)
    torch.testing.assert_close(off_out, base_out, atol=0, rtol=0)


def test_switching_concepts_needs_no_reload_and_does_not_leak(
    tmp_path, base_pipe, tiny_fingerprint, fresh_pipe
):
    a, unet_a, te_a = write_concept(
        tmp_path / "a.safetensors", base_pipe, tiny_fingerprint, seed=4, defect="crack"
    )
    b, unet_b, te_b = write_concept(
        tmp_path / "b.safetensors", base_pipe, tiny_fingerprint, seed=5, defect="dent", text_encoder=False
    )  # a UNet-only concept
    adapters = ConceptAdapters(fresh_pipe, "builtin:tiny")
    ca, cb = adapters.load(a), adapters.load(b)
    unet_id = id(fresh_pipe.unet)
    for _ in range(2):
        adapters.activate(cb)
        torch.testing.assert_close(
            forward(fresh_pipe.unet, fresh_pipe.text_encoder)[1],
            forward(unet_b, te_b)[1],
            atol=1e-5,
            rtol=1e-5,
        )
        adapters.activate("tile/crack")  # by concept id
        torch.testing.assert_close(
            forward(fresh_pipe.unet, fresh_pipe.text_encoder)[1],
            forward(unet_a, te_a)[1],
            atol=1e-5,
            rtol=1e-5,
        )
    assert id(fresh_pipe.unet) == unet_id
    assert (
        [c.adapter_name for c in adapters.concepts]
        == [ca.adapter_name, cb.adapter_name]
        == ["c0_tile_crack", "c1_tile_dent"]
    )
    with pytest.raises(KeyError, match="tile/crack, tile/dent"):
        adapters.activate("tile/scratch")


def test_concept_of_another_base_model_is_an_error_naming_file_and_both_models(
    tmp_path, base_pipe, fresh_pipe
):
    path, _, _ = write_concept(
        tmp_path / "other.safetensors",
        base_pipe,
        "0123456789abcdef",
        seed=6,
        defect="crack",
        base_id="someone/sd2-inpainting",
    )
    adapters = ConceptAdapters(fresh_pipe, "builtin:tiny")
    with pytest.raises(ConceptFileError) as info:
        adapters.load(path)
    message = str(info.value)
    for part in (
        str(path),
        "someone/sd2-inpainting",
        "0123456789abcdef",
        "builtin:tiny",
        adapters.fingerprint,
        "--force",
    ):
        assert part in message
    assert adapters.concepts == []
    assert adapters.load(path, force=True).card.base_model.id == "someone/sd2-inpainting"


def test_unreadable_or_unfitting_concept_files_are_errors_naming_the_file(
    tmp_path, base_pipe, tiny_fingerprint, fresh_pipe
):
    adapters = ConceptAdapters(fresh_pipe, "builtin:tiny")
    torn = tmp_path / "torn.safetensors"
    good, _, _ = write_concept(
        tmp_path / "good.safetensors", base_pipe, tiny_fingerprint, seed=7, defect="crack"
    )
    torn.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ConceptFileError, match=str(torn)):
        adapters.load(torn)
    with pytest.raises(ConceptFileError, match="does not exist"):
        adapters.load(tmp_path / "missing.safetensors")

    from defect_core.concept_file import load_concept, save_concept

    concept = load_concept(good)
    wrong = {k: np.zeros((v.shape[0] + 1, *v.shape[1:]), v.dtype) for k, v in concept.tensors.items()}
    bad = save_concept(tmp_path / "bad.safetensors", wrong, concept.card)
    with pytest.raises(ConceptFileError, match=f"{bad}.*do not fit base model 'builtin:tiny'"):
        adapters.load(bad)


def test_adapter_names_are_peft_safe():
    from defect_core.concept_card import BaseModelRef, ConceptCard

    card = ConceptCard(
        object_name="metal nut", defect_name="color.flip", base_model=BaseModelRef("x", "0" * 16)
    )
    assert adapter_name_for(card, 3) == "c3_metal_nut_color_flip"
