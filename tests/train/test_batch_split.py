"""Splitting a step's batch between processes computes what one process computes (no launch needed here)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from defect_train.data import TrainingBatch
from defect_train.keyed_dropout import DropoutKeys, KeyedDropout, use_keyed_dropout
from defect_train.lora import add_paper_lora
from defect_train.objective import DefectFillObjective
from defect_train.processes import agree_on_step, batch_rows


def test_batch_rows_partition_the_batch_in_equal_shares() -> None:
    assert [batch_rows(6, r, 3) for r in range(3)] == [slice(0, 2), slice(2, 4), slice(4, 6)]
    assert batch_rows(4, 0, 1) == slice(0, 4)
    with pytest.raises(ValueError, match=r"--batch-size 3 is the global batch.*2 processes.*e\.g\. 4"):
        batch_rows(3, 0, 2)


def test_one_process_agrees_with_itself() -> None:
    class Alone:
        num_processes = 1

    from defect_train.objective import StepLosses

    losses = StepLosses(*(torch.tensor(v) for v in (0.5, 0.25, 0.125, 2.0)))
    assert agree_on_step(Alone(), losses, stop=True) == (
        {"total": 0.5, "defect": 0.25, "object": 0.125, "attention": 2.0},
        True,
    )


def _dropout(p: float = 0.3) -> tuple[KeyedDropout, DropoutKeys]:
    keys = DropoutKeys(seed=11)
    return KeyedDropout(p, keys, "unet", "down.0.to_q.default"), keys


def test_a_rows_mask_does_not_depend_on_the_other_rows_of_its_batch() -> None:
    drop, keys = _dropout()
    x = torch.ones(4, 50, 40)
    keys.rows["unet"] = (0, 1, 2, 3)
    whole = drop(x)
    keys.rows["unet"] = (3, 2)  # another process's share, in another order
    torch.testing.assert_close(drop(x[:2]), whole[[3, 2]], rtol=0, atol=0)
    assert not torch.equal(whole[0], whole[1])  # rows get their own masks
    keys.seed = 12  # the next step
    keys.rows["unet"] = (0, 1, 2, 3)
    assert not torch.equal(drop(x), whole)
    keys.seed = 11  # a re-run of the same forward (gradient checkpointing) draws the same mask
    torch.testing.assert_close(drop(x), whole, rtol=0, atol=0)


def test_keyed_dropout_is_inverted_dropout_of_probability_p() -> None:
    drop, keys = _dropout(p=0.3)
    keys.rows["unet"] = tuple(range(8))
    x = torch.full((8, 100, 100), 2.0)
    y = drop(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 2.0 / 0.7))
    # 80000 Bernoulli(0.7) draws: the kept fraction is within 5 standard deviations (0.0016 each) of 0.7
    assert abs(float(kept.float().mean()) - 0.7) < 5 * (0.7 * 0.3 / 80000) ** 0.5
    drop.eval()
    assert drop(x) is x


def test_keyed_dropout_refuses_rows_it_has_no_ids_for() -> None:
    drop, keys = _dropout()
    keys.rows["unet"] = (0, 1)
    with pytest.raises(RuntimeError, match="input has 3 rows"):
        drop(torch.ones(3, 4))


def test_every_lora_dropout_is_replaced(tiny_pipe) -> None:
    unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    add_paper_lora(unet, te, 4, 8.0, 0.1, True)
    keys = DropoutKeys()
    lora_layers = [m for m in unet.modules() if hasattr(m, "lora_A")]
    assert use_keyed_dropout(unet, keys, "unet") == len(lora_layers) > 0
    assert all(isinstance(m.lora_dropout["default"], KeyedDropout) for m in lora_layers)
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in unet.modules())


def _gradients(objective, params, batch, rows_of_each_process) -> tuple[float, list[torch.Tensor]]:
    """What DDP computes: each process's loss and gradient on its rows, averaged over the processes."""
    total, grads = 0.0, [torch.zeros_like(p) for p in params]
    for rows in rows_of_each_process:
        for p in params:
            p.grad = None
        losses = objective(batch, np.random.default_rng(3), torch.Generator().manual_seed(4), rows)
        losses.total.backward()
        objective.end_step()
        total += float(losses.total.detach()) / len(rows_of_each_process)
        for g, p in zip(grads, params, strict=True):
            g += p.grad / len(rows_of_each_process)
    return total, grads


def test_processes_sharing_a_batch_average_to_the_whole_batchs_loss_and_gradient(
    tiny_pipe, one_torch_thread
) -> None:
    unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    torch.manual_seed(0)
    add_paper_lora(unet, te, 4, 8.0, 0.1, True)  # dropout on: the masks must follow the rows
    with torch.no_grad():  # lora_B starts at 0, which would leave lora_A without gradient
        for name, p in [*unet.named_parameters(), *te.named_parameters()]:
            if "lora_B" in name:
                p.normal_(0, 0.05)
    unet.train()
    te.train()
    objective = DefectFillObjective(
        vae=tiny_pipe.vae,
        unet=unet,
        text_encoder=te,
        tokenizer=tiny_pipe.tokenizer,
        noise_scheduler=DDPMScheduler.from_config(tiny_pipe.scheduler.config),
        prompts=("A photo of sks", "A brick with sks"),
        token="sks",
    )
    gen = torch.Generator().manual_seed(5)
    masks = torch.zeros(4, 1, 32, 48)
    for i in range(4):
        masks[i, :, 4 + 4 * i : 12 + 4 * i, 8:30] = 1
    batch = TrainingBatch(torch.rand(4, 3, 32, 48, generator=gen) * 2 - 1, masks)
    params = [p for m in (unet, te) for p in m.parameters() if p.requires_grad]

    one_loss, one = _gradients(objective, params, batch, [slice(None)])
    for shares in ([slice(0, 2), slice(2, 4)], [slice(i, i + 1) for i in range(4)]):
        loss, split = _gradients(objective, params, batch, shares)
        assert loss == pytest.approx(one_loss, rel=1e-6)
        scale = max(float(g.abs().max()) for g in one)
        assert max(float((a - b).abs().max()) for a, b in zip(split, one, strict=True)) <= 1e-5 * scale
    # and the split is not vacuous: other rows give another gradient
    _, first_half = _gradients(objective, params, batch, [slice(0, 2)])
    assert max(float((a - b).abs().max()) for a, b in zip(first_half, one, strict=True)) > 1e-2 * scale
