"""A short run on the demo data lowers the defect loss, measured on a fixed evaluation batch."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch
from diffusers import DDPMScheduler

from defect_train.data import DefectPairs
from defect_train.lora import add_paper_lora
from defect_train.objective import DefectFillObjective
from defect_train.trainer import resolve_training_data, train_concept


def _eval_defect_loss(pipe, unet, te, pairs, config) -> float:
    objective = DefectFillObjective(
        vae=pipe.vae,
        unet=unet,
        text_encoder=te,
        tokenizer=pipe.tokenizer,
        noise_scheduler=DDPMScheduler.from_config(pipe.scheduler.config),
        prompts=config.prompts(),
        token=config.token,
    )
    total = 0.0
    with torch.no_grad():
        for seed in range(4):  # the same 4 batches, t and ε for the model before and after training
            rng, gen = np.random.default_rng(100 + seed), torch.Generator().manual_seed(100 + seed)
            total += float(objective(pairs.draw(rng), rng, gen).defect)
    return total / 4


def test_thirty_steps_lower_the_defect_loss(fast_config, tiny_pipe) -> None:
    config = replace(
        fast_config,
        steps=30,
        batch_size=4,
        checkpoint_every=0,
        warmup_steps=5,
        learning_rate=1e-2,
        text_encoder_learning_rate=2e-3,
    )
    concept = train_concept(config)
    pairs = DefectPairs(resolve_training_data(config).examples, 64, 4)

    unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    add_paper_lora(unet, te, config.rank, config.lora_alpha, 0.0, True)
    unet.eval()
    te.eval()
    before = _eval_defect_loss(tiny_pipe, unet, te, pairs, config)

    trained = copy.deepcopy(tiny_pipe)
    trained.load_lora_weights(str(concept))
    trained.unet.eval()
    after = _eval_defect_loss(tiny_pipe, trained.unet, trained.text_encoder, pairs, config)
    assert after < 0.9 * before, (before, after)
