"""LoRA sits on exactly the paper's modules; training changes nothing else; a stock pipeline loads it."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler
from safetensors.numpy import load_file

from defect_train.data import TrainingBatch
from defect_train.lora import add_paper_lora, cast_lora_to_fp32, export_lora_tensors, lora_parameters
from defect_train.objective import DefectFillObjective
from defect_train.trainer import train_concept


def test_lora_targets_exactly_the_paper_modules(tiny_pipe) -> None:
    unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    add_paper_lora(unet, te, rank=8, alpha=16, dropout=0.1, train_text_encoder=True)
    unet_targets = {n.split(".lora_")[0] for n, _ in unet.named_parameters() if "lora_" in n}
    assert {t.rsplit(".", 1)[-1] if not t.endswith("to_out.0") else "to_out.0" for t in unet_targets} == {
        "to_q",
        "to_k",
        "to_v",
        "to_out.0",
    }
    te_targets = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, _ in te.named_parameters() if "lora_" in n}
    assert te_targets == {"q_proj", "k_proj", "v_proj", "out_proj"}
    # every attention projection got one: 4 per attention layer
    n_attn = sum(1 for name, _ in tiny_pipe.unet.named_modules() if name.endswith((".attn1", ".attn2")))
    assert len(unet_targets) == 4 * n_attn
    assert all(p.requires_grad == ("lora_" in n) for n, p in unet.named_parameters())
    assert all(p.requires_grad == ("lora_" in n) for n, p in te.named_parameters())
    ranks = {p.shape[0] for n, p in unet.named_parameters() if "lora_A" in n}
    assert ranks == {8}


def test_training_steps_change_only_lora_weights(tiny_pipe) -> None:
    vae, unet, te = tiny_pipe.vae, copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    add_paper_lora(unet, te, rank=4, alpha=8, dropout=0.1, train_text_encoder=True)
    before = {f"unet.{n}": p.detach().clone() for n, p in unet.named_parameters()}
    before |= {f"te.{n}": p.detach().clone() for n, p in te.named_parameters()}
    vae_before = {n: p.detach().clone() for n, p in vae.named_parameters()}
    objective = DefectFillObjective(
        vae=vae,
        unet=unet,
        text_encoder=te,
        tokenizer=tiny_pipe.tokenizer,
        noise_scheduler=DDPMScheduler.from_config(tiny_pipe.scheduler.config),
        prompts=("A photo of sks", "A brick with sks"),
        token="sks",
    )
    optimizer = torch.optim.AdamW(lora_parameters(unet) + lora_parameters(te), lr=1e-3)
    masks = torch.zeros(2, 1, 64, 64)
    masks[:, :, 20:40, 20:30] = 1
    batch = TrainingBatch(torch.rand(2, 3, 64, 64) * 2 - 1, masks)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    for _ in range(3):
        objective(batch, rng, gen).total.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = {f"unet.{n}": p for n, p in unet.named_parameters()} | {
        f"te.{n}": p for n, p in te.named_parameters()
    }
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all("lora_" in n for n in changed)
    assert any(n.startswith("te.") for n in changed)
    assert all(torch.equal(vae_before[n], p) for n, p in vae.named_parameters())


def test_concept_loads_in_a_stock_pipeline_with_the_trained_update(fast_config, tiny_pipe) -> None:
    from defect_sample.model_loading import load_inpaint_pipeline

    config = replace(fast_config, steps=2, learning_rate=1e-2, text_encoder_learning_rate=1e-2)
    concept = train_concept(config)
    tensors = load_file(str(concept))
    assert tensors and all(k.startswith(("unet.", "text_encoder.")) for k in tensors)

    # our own reconstruction of the LoRA'd UNet: W + (alpha / r) B A, from the trained checkpoint
    stock = load_inpaint_pipeline("builtin:tiny")
    torch.manual_seed(0)
    sample, t = torch.randn(1, 9, 8, 8), torch.tensor([400])
    context = torch.randn(1, 77, 32)
    with torch.no_grad():
        base_out = stock.unet(sample, t, encoder_hidden_states=context).sample
    stock.load_lora_weights(str(concept))
    with torch.no_grad():
        lora_out = stock.unet(sample, t, encoder_hidden_states=context).sample
    assert not torch.allclose(base_out, lora_out)

    manual = copy.deepcopy(tiny_pipe.unet)
    state = manual.state_dict()
    for key, a in tensors.items():
        if not key.startswith("unet.") or ".lora_A." not in key:
            continue
        module = key[len("unet.") :].split(".lora_A.")[0]
        b = tensors[key.replace(".lora_A.", ".lora_B.")]
        state[f"{module}.weight"] = state[f"{module}.weight"] + torch.from_numpy(
            b @ a
        )  # scale already folded
    manual.load_state_dict(state)
    with torch.no_grad():
        manual_out = manual(sample, t, encoder_hidden_states=context).sample
    torch.testing.assert_close(lora_out, manual_out, rtol=1e-4, atol=1e-5)


def test_fp16_base_with_fp32_lora_survives_grad_scaler(tiny_pipe) -> None:
    """diffusers#6755: fp16 trainable weights make GradScaler.unscale_ fail; ours stay fp32."""

    def make(cast: bool):
        unet = copy.deepcopy(tiny_pipe.unet).to(torch.float16)
        te = copy.deepcopy(tiny_pipe.text_encoder)
        add_paper_lora(unet, te, rank=4, alpha=8, dropout=0.0, train_text_encoder=False)
        if cast:
            cast_lora_to_fp32(unet)
        return unet

    sample = torch.randn(1, 9, 8, 8)
    context = torch.randn(1, 77, 32)

    def step(unet):
        params = lora_parameters(unet)
        optimizer = torch.optim.AdamW(params, lr=1e-3)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
        with torch.autocast("cpu", dtype=torch.float16):
            out = unet(sample, torch.tensor([10]), encoder_hidden_states=context).sample
        scaler.scale(out.float().pow(2).mean()).backward()
        scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()
        return params

    with pytest.raises(ValueError, match="FP16 gradients"):
        step(make(cast=False))
    params = step(make(cast=True))
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)


def test_export_folds_alpha_over_rank_into_lora_b(tiny_pipe) -> None:
    unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    add_paper_lora(unet, te, rank=8, alpha=16, dropout=0.1, train_text_encoder=False)
    with torch.no_grad():
        for n, p in unet.named_parameters():
            if "lora_B" in n:
                p.fill_(0.5)
    tensors = export_lora_tensors(unet, te, rank=8, alpha=16, with_text_encoder=False)
    b_values = {float(v.flat[0]) for k, v in tensors.items() if ".lora_B." in k}
    assert b_values == {1.0}  # 0.5 × 16 / 8
    assert not any(k.startswith("text_encoder.") for k in tensors)


def test_gradient_checkpointing_gives_the_same_losses_and_gradients(tiny_pipe) -> None:
    """Checkpointed blocks re-run their forward in the backward pass: the attention capture must too."""
    masks = torch.zeros(2, 1, 64, 64)
    masks[:, :, 8:40, 16:24] = 1
    batch = TrainingBatch(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1, masks)
    results = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
        add_paper_lora(unet, te, rank=4, alpha=8, dropout=0.0, train_text_encoder=True)
        if checkpointing:
            unet.enable_gradient_checkpointing()
        unet.train()
        objective = DefectFillObjective(
            vae=tiny_pipe.vae,
            unet=unet,
            text_encoder=te,
            tokenizer=tiny_pipe.tokenizer,
            noise_scheduler=DDPMScheduler.from_config(tiny_pipe.scheduler.config),
            prompts=("A photo of sks", "A brick with sks"),
            token="sks",
        )
        losses = objective(batch, np.random.default_rng(1), torch.Generator().manual_seed(1))
        losses.total.backward()
        objective.end_step()
        assert not objective.store.enabled and not objective.store.maps
        results.append((losses.as_floats(), [p.grad.clone() for p in lora_parameters(unet)]))
    (plain_losses, plain_grads), (ckpt_losses, ckpt_grads) = results
    assert plain_losses == pytest.approx(ckpt_losses, rel=1e-5)
    for a, b in zip(plain_grads, ckpt_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_bf16_mixed_precision_run_trains_fp32_lora_and_writes_a_concept(fast_config) -> None:
    config = replace(fast_config, steps=2, mixed_precision="bf16", checkpoint_every=0)
    concept = train_concept(config)
    tensors = load_file(str(concept))
    assert tensors and all(v.dtype == np.float32 and np.isfinite(v).all() for v in tensors.values())
    assert any(
        np.abs(v).max() > 0 for k, v in tensors.items() if ".lora_B." in k
    )  # trained, not the zero init
