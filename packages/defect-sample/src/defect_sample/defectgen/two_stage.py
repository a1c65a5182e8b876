"""Two-stage Defect-Gen sampling: one reverse process, the large network early, the small one late.

x_T ~ N(0, I) over RGB + one-hot channels; for every timestep t of the schedule the large-receptive-field
network predicts x0 when t >= switch_step (999 … 400 by default: the global layout, where object and defect
are) and the small one when t < switch_step (399 … 0: local texture). The authors' released loop has the
large network denoise all the way from t = 599 to 0 and the small one then start from that clean image, so
the small network re-noises nothing; here both share the one chain, as the paper describes.

Every item has its own ``torch.Generator`` seeded with its own seed (x_T and every step's noise come from
it), so an item's result does not depend on the batch it ran in, its shard or the global random state. The
generators live on the networks' device: the full DDPM chain draws a fresh image-sized noise per item and
step, which on the CPU and copied over would cost a GPU run a sizeable share of its forward time (the same
seed therefore gives other noise on a GPU than on the CPU, as the networks' arithmetic differs there anyway).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DModel
from PIL import Image

from defect_core.generator_card import IMAGE_CHANNELS
from defect_sample.defectgen.generator_folder import DefectGenerator
from defect_sample.defectgen.schedule import ddim_like
from defect_sample.job_plan import derive_seed


class DefectGenSample(NamedTuple):
    """One generated item: the image (PIL RGB, resolution²) and its class ids (uint8 (H, W), 0 = background,
    k = class k of the generator's card)."""

    image: Image.Image
    labels: np.ndarray


def item_seed(seed: int, index: int) -> int:
    """The sampling seed of item ``index`` of a run with global ``seed``."""
    return derive_seed(seed, "defectgen", index)


def network_for_timestep(generator: DefectGenerator, t: int, switch_step: int) -> UNet2DModel:
    """The large network for ``t >= switch_step``, the small one below."""
    return generator.large if t >= switch_step else generator.small


def _initial_noise(
    seeds: Sequence[int], shape: tuple[int, int, int], device: torch.device
) -> tuple[torch.Tensor, list[torch.Generator]]:
    generators = [torch.Generator(device).manual_seed(int(s)) for s in seeds]
    noise = torch.stack(
        [torch.randn(shape, generator=g, dtype=torch.float32, device=device) for g in generators]
    )
    return noise, generators


def denoise(
    generator: DefectGenerator,
    seeds: Sequence[int],
    *,
    steps: int | None = None,
    switch_step: int | None = None,
    eta: float = 0.0,
) -> torch.Tensor:
    """Run the two-stage reverse process for one batch, one item per seed; returns x0, float32
    (B, num_channels, R, R) in [-1, 1] on the generator's device (R = the card's resolution).

    ``steps``: None = all ``num_train_timesteps`` steps with the DDPM update; N = N DDIM steps (``eta``).
    ``switch_step``: default the card's. The networks run in their dtype; the chain is kept in float32.
    """
    card = generator.card
    switch = card.switch_step if switch_step is None else int(switch_step)
    if not 0 <= switch <= card.num_train_timesteps:
        raise ValueError(f"switch_step must be in 0..{card.num_train_timesteps}, got {switch}")
    if steps is None:
        scheduler = DDPMScheduler.from_config(
            generator.scheduler.config
        )  # a fresh copy: set_timesteps mutates
        scheduler.set_timesteps(card.num_train_timesteps)
        step_kwargs: dict[str, object] = {}
    else:
        if not 1 <= steps <= card.num_train_timesteps:
            raise ValueError(f"steps must be in 1..{card.num_train_timesteps}, got {steps}")
        scheduler = ddim_like(generator.scheduler)
        scheduler.set_timesteps(steps)
        step_kwargs = {"eta": eta, "use_clipped_model_output": True}
    device, dtype = generator.device, generator.dtype
    shape = (card.num_channels, card.resolution, card.resolution)
    x, rngs = _initial_noise(seeds, shape, device)
    with torch.inference_mode():
        for t in scheduler.timesteps:
            net = network_for_timestep(generator, int(t), switch)
            x0 = net(x.to(dtype), t.to(device)).sample.float()
            # a list of generators: each item's step noise from its own stream
            x = scheduler.step(x0, t, x, generator=rngs, **step_kwargs).prev_sample
    return x.clamp(-1.0, 1.0)


def to_samples(x0: torch.Tensor) -> list[DefectGenSample]:
    """Split x0 (B, 3 + 1 + n, H, W) in [-1, 1] into images (channels 0–2 → uint8 RGB) and labels (argmax
    over channels 3…: 0 = background, k = class k)."""
    if x0.ndim != 4 or x0.shape[1] < IMAGE_CHANNELS + 2:
        raise ValueError(f"x0 must be (B, 3 + 1 + classes, H, W), got {tuple(x0.shape)}")
    rgb = ((x0[:, :IMAGE_CHANNELS].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    labels = x0[:, IMAGE_CHANNELS:].argmax(dim=1).to(torch.uint8)
    rgb_np = rgb.permute(0, 2, 3, 1).cpu().numpy()
    labels_np = labels.cpu().numpy()
    return [DefectGenSample(Image.fromarray(rgb_np[i], mode="RGB"), labels_np[i]) for i in range(len(rgb_np))]


def sample_defectgen(
    generator: DefectGenerator,
    count: int,
    seed: int = 0,
    batch_size: int = 8,
    steps: int | None = None,
    switch_step: int | None = None,
    *,
    first_index: int = 0,
    seeds: Sequence[int] | None = None,
    eta: float = 0.0,
) -> Iterator[DefectGenSample]:
    """Generate ``count`` items, ``batch_size`` per network call, and yield them in order as
    :class:`DefectGenSample` ``(image, labels)``.

    Item j (j = ``first_index`` … ``first_index + count − 1``) uses the seed :func:`item_seed` (``seed``, j),
    or ``seeds[j - first_index]`` when ``seeds`` is given, so the same seed gives the same item whatever the
    batch size. ``steps`` / ``switch_step`` / ``eta``: see :func:`denoise`.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if seeds is None:
        seeds = [item_seed(seed, first_index + j) for j in range(count)]
    elif len(seeds) != count:
        raise ValueError(f"{len(seeds)} seeds for {count} items")
    for start in range(0, count, batch_size):
        x0 = denoise(
            generator, seeds[start : start + batch_size], steps=steps, switch_step=switch_step, eta=eta
        )
        yield from to_samples(x0)
