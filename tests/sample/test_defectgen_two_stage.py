"""Two-stage sampling: which network runs at which t (forward hooks), determinism across batch sizes, and
images / labels decoded from x0 by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from defectgen_helpers import write_tiny_generator

from defect_sample.defectgen import load_generator, sample_defectgen, to_samples
from defect_sample.defectgen.two_stage import item_seed


@pytest.fixture(scope="module")
def generator_t20(tmp_path_factory: pytest.TempPathFactory):
    """A tiny generator trained (in its card) with T = 20 steps and switch step 8, so a full DDPM chain is short."""
    folder = tmp_path_factory.mktemp("gen") / "generator"
    return load_generator(write_tiny_generator(folder, num_train_timesteps=20, switch_step=8))


def record_timesteps(generator) -> tuple[dict[str, list[int]], list]:
    """Forward pre-hooks on both networks: the timestep each call got and the order of the calls."""
    seen: dict[str, list[int]] = {"large": [], "small": []}
    order: list[str] = []
    handles = []
    for name in ("large", "small"):

        def hook(module, args, name=name):
            t = int(torch.as_tensor(args[1]).reshape(-1)[0])
            seen[name].append(t)
            order.append(name)

        handles.append(getattr(generator, name).register_forward_pre_hook(hook))
    return seen, handles


def run_recorded(generator, **kwargs) -> dict[str, list[int]]:
    seen, handles = record_timesteps(generator)
    try:
        list(sample_defectgen(generator, 1, seed=0, batch_size=1, **kwargs))
    finally:
        for h in handles:
            h.remove()
    return seen


def test_large_network_runs_t_at_or_above_the_switch_and_small_below(generator_t20):
    # full chain (DDPM), T = 20, card's switch 8: large 19 … 8, then small 7 … 0, each t once
    seen = run_recorded(generator_t20)
    assert seen["large"] == list(range(19, 7, -1))
    assert seen["small"] == list(range(7, -1, -1))
    # DDIM, 5 trailing steps: 19, 15, 11 | 7, 3
    seen = run_recorded(generator_t20, steps=5)
    assert (seen["large"], seen["small"]) == ([19, 15, 11], [7, 3])
    # the switch step as an argument: 0 = large only, T = small only
    assert run_recorded(generator_t20, steps=5, switch_step=0) == {"large": [19, 15, 11, 7, 3], "small": []}
    assert run_recorded(generator_t20, steps=5, switch_step=20) == {"large": [], "small": [19, 15, 11, 7, 3]}


def test_the_small_network_continues_the_noisy_chain_not_a_clean_image(generator_t20):
    """The reference code's bug: the large network denoised to t = 0 and the small one started from a clean
    image. Here the small network's first input is the chain's x_7, a posterior sample that still holds
    noise (values beyond the [-1, 1] of a clean, clamped sample), not the large network's clamped x0."""
    large_out: list[torch.Tensor] = []
    small_in: list[torch.Tensor] = []
    hooks = [
        generator_t20.large.register_forward_hook(lambda m, args, out: large_out.append(out.sample.clone())),
        generator_t20.small.register_forward_pre_hook(lambda m, args: small_in.append(args[0].clone())),
    ]
    try:
        list(sample_defectgen(generator_t20, 1, seed=0, batch_size=1))
    finally:
        for h in hooks:
            h.remove()
    assert len(large_out) == 12 and len(small_in) == 8
    first = small_in[0]
    assert float(first.abs().max()) > 1.0
    assert not torch.allclose(first, large_out[-1].clamp(-1, 1), atol=0.05)


def test_same_items_whatever_the_batch_size_and_the_first_index(generator_t20):
    one_by_one = list(sample_defectgen(generator_t20, 3, seed=5, batch_size=1, steps=4))
    together = list(sample_defectgen(generator_t20, 3, seed=5, batch_size=3, steps=4))
    tail = list(sample_defectgen(generator_t20, 2, seed=5, batch_size=2, steps=4, first_index=1))
    for a, b in zip(one_by_one, together, strict=True):
        assert np.abs(np.asarray(a.image, int) - np.asarray(b.image, int)).max() <= 1
        assert (a.labels != b.labels).mean() < 0.01
    for a, b in zip(one_by_one[1:], tail, strict=True):
        assert np.abs(np.asarray(a.image, int) - np.asarray(b.image, int)).max() <= 1
    # explicit seeds are the same as the derived ones; another seed gives another item
    explicit = list(sample_defectgen(generator_t20, 1, seeds=[item_seed(5, 2)], steps=4))
    assert np.abs(np.asarray(explicit[0].image, int) - np.asarray(one_by_one[2].image, int)).max() <= 1
    assert np.abs(np.asarray(one_by_one[0].image, int) - np.asarray(one_by_one[1].image, int)).mean() > 5
    assert one_by_one[0].image.size == (32, 32) and one_by_one[0].labels.shape == (32, 32)
    assert one_by_one[0].labels.dtype == np.uint8 and one_by_one[0].labels.max() <= 2


def test_image_and_labels_from_x0_by_hand():
    x0 = torch.full((1, 7, 2, 2), -1.0)  # RGB + background + 3 classes
    x0[0, :3] = torch.tensor([[-1.0, 1.0], [0.0, 0.5]])  # same in R, G and B
    x0[0, 3] = torch.tensor([[0.9, -1.0], [-1.0, -1.0]])  # background wins at (0, 0)
    x0[0, 4, 0, 1] = 0.2  # class 1 at (0, 1)
    x0[0, 6, 1, 0] = 0.1  # class 3 at (1, 0)
    x0[0, 5, 1, 1] = 1.0  # class 2 at (1, 1)
    (sample,) = to_samples(x0)
    image = np.asarray(sample.image)
    # (x + 1) · 127.5 rounded: -1 → 0, 1 → 255, 0 → 127.5 → 128 (round half to even), 0.5 → 191.25 → 191
    np.testing.assert_array_equal(image[..., 0], [[0, 255], [128, 191]])
    assert sample.image.mode == "RGB" and (image[..., 0] == image[..., 2]).all()
    np.testing.assert_array_equal(sample.labels, [[0, 1], [3, 2]])
    assert sample.labels.dtype == np.uint8
    with pytest.raises(ValueError, match="3 \\+ 1 \\+ classes"):
        to_samples(torch.zeros(1, 4, 2, 2))


def test_bad_arguments_are_named(generator_t20, tmp_path: Path):
    with pytest.raises(ValueError, match="switch_step"):
        list(sample_defectgen(generator_t20, 1, switch_step=21, steps=2))
    with pytest.raises(ValueError, match="steps"):
        list(sample_defectgen(generator_t20, 1, steps=21))
    with pytest.raises(ValueError, match="seeds"):
        list(sample_defectgen(generator_t20, 2, seeds=[1]))
