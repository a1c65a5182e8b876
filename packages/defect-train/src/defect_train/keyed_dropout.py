"""LoRA dropout whose mask for a batch row depends only on the step, the layer and the row's place in the
global batch, never on the process that computes the row or on a random stream shared with other layers.

``nn.Dropout`` draws one mask for the whole tensor it gets from the process's global RNG. Under
DistributedDataParallel each process gets a slice of the batch, so two processes drop other elements than
one process would, and the text encoder (which every process runs on the same two prompts) would drop other
elements in each process. The trained concept would then depend on the number of processes. Here each row
draws its mask from a generator seeded with (step seed, model, layer, row id), so every process computes
the very numbers that one process computes for that row; a checkpointed forward that is re-run during the
backward pass draws the same mask again for the same reason.

Usage: :func:`use_keyed_dropout` replaces peft's ``lora_dropout`` modules of a model; before each forward,
the caller sets ``keys.seed`` (one value per step) and ``keys.rows[model]`` (the global ids of the rows it
passes, in order).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass
class DropoutKeys:
    """What the masks of a forward pass depend on: the step's ``seed`` and, per model name, the global ids
    of the batch rows in the order they are passed (set by the caller before each forward)."""

    seed: int = 0
    rows: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _code(text: str) -> int:
    return zlib.crc32(text.encode())


class KeyedDropout(nn.Module):
    """Inverted dropout of probability ``p`` on inputs (rows, ...), one keyed mask per row (see module doc)."""

    def __init__(self, p: float, keys: DropoutKeys, model: str, layer: str) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.keys, self.model, self.layer = p, keys, model, layer
        self._codes = (_code(model), _code(layer))

    def extra_repr(self) -> str:
        return f"p={self.p}, model={self.model!r}"

    def row_seed(self, row: int) -> int:
        """The 64-bit seed of ``row``'s mask in this layer at the current step."""
        entropy = [self.keys.seed, *self._codes, row]
        return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        rows = self.keys.rows.get(self.model)
        if rows is None or len(rows) != x.shape[0]:
            raise RuntimeError(
                f"keyed LoRA dropout of {self.model}.{self.layer}: the input has {x.shape[0]} rows "
                f"but the row ids set for {self.model!r} are {rows}; set keys.rows before the forward"
            )
        generator = torch.Generator(x.device)
        keep = torch.empty(x.shape, dtype=torch.bool, device=x.device)
        for i, row in enumerate(rows):
            generator.manual_seed(self.row_seed(row))
            keep[i] = torch.rand(x.shape[1:], generator=generator, device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1 - self.p)


def use_keyed_dropout(model: nn.Module, keys: DropoutKeys, name: str) -> int:
    """Replace every LoRA dropout of ``model`` (peft's ``lora_dropout`` entries that are ``nn.Dropout``) by a
    :class:`KeyedDropout` that reads ``keys.rows[name]``; return how many were replaced (0 without dropout)."""
    found = []
    for module_name, module in model.named_modules():
        dropouts = getattr(module, "lora_dropout", None)
        if isinstance(dropouts, nn.ModuleDict):
            found += [
                (dropouts, adapter, f"{module_name}.{adapter}", d)
                for adapter, d in dropouts.items()
                if isinstance(d, nn.Dropout)
            ]
    for dropouts, adapter, layer, dropout in found:
        dropouts[adapter] = KeyedDropout(dropout.p, keys, name, layer)
    return len(found)
