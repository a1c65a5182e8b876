"""A concept trained by defect-train goes into a stock diffusers pipeline and into defect-sample alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(scope="module")
def trained_concept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from defect_train import TrainConfig, train_concept

    run = tmp_path_factory.mktemp("train")
    config = replace(
        TrainConfig(output_dir=run, base_model="builtin:tiny"),
        steps=3,
        resolution=64,
        batch_size=2,
        warmup_steps=1,
        checkpoint_every=0,
        preview_count=0,
        log_every=1,
        learning_rate=5e-2,
        text_encoder_learning_rate=1e-2,
        device="cpu",
    )
    return train_concept(config)


@torch.no_grad()
def unet_output(pipe) -> torch.Tensor:
    ids = pipe.tokenizer(
        ["A photo of sks"], padding="max_length", max_length=77, return_tensors="pt"
    ).input_ids
    embeds = pipe.text_encoder(ids)[0]
    x = torch.randn(1, 9, 8, 8, generator=torch.Generator().manual_seed(0))
    return pipe.unet(x, 400, encoder_hidden_states=embeds).sample


def test_trained_concept_loads_in_stock_diffusers_and_in_defect_sample_with_the_same_effect(
    trained_concept, tmp_path
):
    from defect_core.concept_file import read_concept_card
    from defect_core.manifest import read_manifest
    from defect_sample.config import SampleConfig
    from defect_sample.generate import run_generation
    from defect_sample.model_loading import load_inpaint_pipeline
    from defect_sample.pipeline import DefectFillPipeline

    card = read_concept_card(trained_concept)
    stock = load_inpaint_pipeline(card.base_model.id)
    before = unet_output(stock)
    stock.load_lora_weights(str(trained_concept))
    after = unet_output(stock)
    assert (after - before).abs().max() > 1e-4  # the concept changes the stock pipeline's output

    ours = DefectFillPipeline.from_pretrained(card.base_model.id, concepts=[trained_concept], device="cpu")
    ours.concepts.activate(card.concept_id)
    torch.testing.assert_close(unet_output(ours.base), after, atol=1e-5, rtol=1e-5)

    normals = tmp_path / "good"
    normals.mkdir()
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(normals / "0.png")
    config = SampleConfig(
        out=tmp_path / "out",
        concept=(trained_concept,),
        normals=normals,
        shapes=("ellipse",),
        count=2,
        candidates=2,
        steps=2,
        select="ssim",
        device="cpu",
    )
    assert run_generation(config, pipeline=ours, progress=False).written == 2
    records = read_manifest(config.out / "manifest.jsonl")
    assert [r.concept for r in records] == [card.concept_id] * 2
    assert all(r.defect_name == card.defect_name and r.base_model == card.base_model.id for r in records)
