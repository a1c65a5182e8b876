"""Measuring a network's receptive field: which input pixels one output pixel depends on.

Defect-Gen rests on its two networks differing here (DESIGN.md §4b). The measurement is the gradient of the
centre output pixel (summed over the output channels) with respect to the input: the **extent** is the size
of the bounding box of the input pixels with a non-zero gradient (the theoretical receptive field, clipped
by the image), the **effective** size is the side of the smallest centred square that holds a given share of
the gradient's absolute mass (Luo et al. 2016's effective receptive field; it is much smaller, and it is
what a freshly initialised network sees, not a trained one).

GroupNorm couples every pixel to every other one through its image-wide mean and variance, so with live
statistics every gradient is non-zero and every network "sees" the whole image. That coupling is a
global brightness / contrast normalisation, not the spatial context the method limits; the measurement
therefore holds the statistics constant (computed from the same input, detached), which leaves the forward
values unchanged and the gradients flowing only through convolutions, up / down sampling and attention.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the centre output pixel of a ``resolution`` x ``resolution`` input."""

    resolution: int
    extent: tuple[int, int]
    """(height, width) in input pixels of the bounding box of non-zero gradient."""
    effective: int
    """Side of the smallest centred square holding ``mass`` of the absolute gradient."""
    mass: float

    @property
    def size(self) -> int:
        """The larger side of :attr:`extent`."""
        return max(self.extent)

    @property
    def covers_image(self) -> bool:
        """True when the non-zero gradient spans the whole input (the extent is clipped by the image)."""
        return self.extent == (self.resolution, self.resolution)

    def describe(self) -> str:
        whole = " (the whole image)" if self.covers_image else ""
        return (
            f"{self.extent[0]} x {self.extent[1]} px of {self.resolution} x {self.resolution}{whole}; "
            f"{self.mass:.0%} of the gradient within {self.effective} x {self.effective} px"
        )


def _group_norm_frozen_statistics(module: torch.nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
    n, c = x.shape[:2]
    grouped = x.reshape(n, module.num_groups, -1)
    mean = grouped.mean(-1, keepdim=True).detach()
    var = grouped.var(-1, unbiased=False, keepdim=True).detach()
    y = ((grouped - mean) / torch.sqrt(var + module.eps)).reshape(x.shape)
    if module.affine:
        shape = (1, c) + (1,) * (x.ndim - 2)
        y = y * module.weight.reshape(shape) + module.bias.reshape(shape)
    return y


@contextmanager
def frozen_norm_statistics(model: torch.nn.Module) -> Iterator[None]:
    """Within the block, every ``GroupNorm`` of ``model`` uses detached statistics (same forward values)."""
    patched = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    for module in patched:
        module.forward = types.MethodType(_group_norm_frozen_statistics, module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward  # back to the class's forward


def gradient_map(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """|d out[0, :, cy, cx].sum() / d x| summed over the input channels: (H, W) float64, where (cy, cx) is
    the centre pixel (H // 2, W // 2) of the output and ``x`` is one input (1, C, H, W)."""
    x = x.detach().clone().requires_grad_(True)
    out = forward(x)
    cy, cx = out.shape[-2] // 2, out.shape[-1] // 2
    (grad,) = torch.autograd.grad(out[0, :, cy, cx].sum(), x)
    return grad[0].abs().sum(0).double()


def receptive_field_of_map(grad: torch.Tensor, mass: float = 0.95) -> ReceptiveField:
    """The :class:`ReceptiveField` of a square gradient map (H, W) around its centre pixel."""
    if grad.ndim != 2 or grad.shape[0] != grad.shape[1]:
        raise ValueError(f"gradient map must be square (H, W), got {tuple(grad.shape)}")
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    side = grad.shape[0]
    rows = torch.nonzero(grad.sum(1)).flatten()
    cols = torch.nonzero(grad.sum(0)).flatten()
    if rows.numel() == 0:
        raise ValueError("the output does not depend on the input (all gradients are zero)")
    extent = (int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
    c = side // 2
    total = float(grad.sum())
    effective = side
    for r in range(side):
        window = grad[max(0, c - r) : c + r + 1, max(0, c - r) : c + r + 1]
        if float(window.sum()) >= mass * total:
            effective = min(side, 2 * r + 1)
            break
    return ReceptiveField(side, extent, effective, mass)


def measure_receptive_field(
    model: torch.nn.Module,
    resolution: int,
    *,
    in_channels: int | None = None,
    timestep: int = 500,
    mass: float = 0.95,
    seed: int = 0,
) -> ReceptiveField:
    """The receptive field of ``model``'s centre output pixel at ``resolution`` px.

    ``model`` is a diffusers ``UNet2DModel`` (called with ``timestep``) or any module mapping (1, C, H, W) to
    (1, C', H, W); ``in_channels`` defaults to ``model.config.in_channels``. The input is standard normal
    noise from ``seed`` (a noisy sample, what the denoiser sees); GroupNorm statistics are held constant
    (module docstring). The model's parameters get no gradient and its mode is restored.
    """
    config = getattr(model, "config", None)
    channels = in_channels if in_channels is not None else getattr(config, "in_channels", None)
    if channels is None:
        raise ValueError("in_channels is needed for a model without a diffusers config")
    param = next(model.parameters())
    x = torch.randn((1, channels, resolution, resolution), generator=torch.Generator().manual_seed(seed)).to(
        param.device, param.dtype
    )
    is_unet = config is not None and hasattr(config, "block_out_channels")
    t = torch.tensor([timestep], device=param.device)

    def forward(inp: torch.Tensor) -> torch.Tensor:
        return model(inp, t).sample if is_unet else model(inp)

    was_training = model.training
    requires = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in requires:
        p.requires_grad_(False)
    try:
        with frozen_norm_statistics(model):
            grad = gradient_map(forward, x)
    finally:
        model.train(was_training)
        for p, flag in requires:
            p.requires_grad_(flag)
    return receptive_field_of_map(grad.cpu(), mass)
