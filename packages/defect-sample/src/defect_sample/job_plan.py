"""The deterministic plan of a generation job, and how it is split between shards and processes.

Every work item (one output image) is fixed by the global seed and its own index: which normal image,
which mask (or mask shape), and its sampling seed. Nothing depends on the order items are run in, the batch
size or the number of workers, so a resumed, sharded or multi-GPU run writes the same images as a single
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

SEED_BITS = 63


def derive_seed(seed: int, *keys: object) -> int:
    """A seed in [0, 2**63) from the global ``seed`` and any keys (a stable hash, not Python's ``hash``)."""
    text = "/".join([str(int(seed)), *(str(k) for k in keys)])
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)


def balanced_pick(n: int, index: int, seed: int, tag: str) -> int:
    """Pick one of ``n`` choices for ``index``: a fresh random permutation of all ``n`` per round of ``n``
    indices, so every choice is used equally often and the order is still random."""
    if n < 1:
        raise ValueError(f"nothing to pick from (n={n})")
    round_, position = divmod(index, n)
    perm = np.random.default_rng(derive_seed(seed, tag, round_)).permutation(n)
    return int(perm[position])


def slug(text: str) -> str:
    """A file-name-safe lower-case version of ``text`` (letters, digits, ``-``)."""
    return re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "defect"


@dataclass(frozen=True)
class WorkItem:
    """One output image: its plan index, id (file stem), concept (index into the run's concepts, or None
    zero-shot), normal image, mask file or mask shape, and sampling seed."""

    index: int
    item_id: str
    group: int | None
    defect_name: str
    normal: Path
    seed: int
    mask_path: Path | None = None
    shape: str | None = None

    @property
    def mask_source(self) -> str:
        """What the manifest records as the mask's origin: the mask file, or ``shape:<name>``."""
        return str(self.mask_path) if self.mask_path is not None else f"shape:{self.shape}"


@dataclass(frozen=True)
class PlanGroup:
    """The items of one concept (or of the zero-shot prompt): a key that fixes their seeds, the file-stem
    prefix, the defect name, and the masks to draw from (files, or shape names)."""

    key: str
    stem: str
    defect_name: str
    mask_paths: tuple[Path, ...] = ()
    shapes: tuple[str, ...] = ()


def plan_work_items(
    groups: Sequence[PlanGroup], normals: Sequence[Path], count: int, seed: int
) -> list[WorkItem]:
    """``count`` items per group, group after group; item ``j`` of a group gets

    - the normal image ``balanced_pick`` over ``normals`` (each used equally often),
    - a mask file ``balanced_pick`` over the group's masks, or a shape ``balanced_pick`` over its shapes,
    - the seed ``derive_seed(seed, group.key, j)``,

    all independent of the other groups (adding a concept changes nothing for the others).
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not normals:
        raise ValueError("no normal images to plan with")
    stems = [g.stem for g in groups]
    if len(set(stems)) != len(stems):
        raise ValueError(f"two groups share a file-name prefix: {stems}")
    items = []
    for g_index, group in enumerate(groups):
        if not group.mask_paths and not group.shapes:
            raise ValueError(f"group {group.key!r} has neither mask files nor shapes")
        for j in range(count):
            mask_path = shape = None
            if group.mask_paths:
                mask_path = group.mask_paths[
                    balanced_pick(len(group.mask_paths), j, seed, f"{group.key}/mask")
                ]
            else:
                shape = group.shapes[balanced_pick(len(group.shapes), j, seed, f"{group.key}/shape")]
            items.append(
                WorkItem(
                    index=len(items),
                    item_id=f"{group.stem}_{j:05d}",
                    group=g_index,
                    defect_name=group.defect_name,
                    normal=Path(normals[balanced_pick(len(normals), j, seed, f"{group.key}/normal")]),
                    seed=derive_seed(seed, group.key, j),
                    mask_path=mask_path,
                    shape=shape,
                )
            )
    return items


# -- splitting the plan ----------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` → (i, n), with 0 <= i < n (shards are numbered from 0)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"shard must look like i/n (e.g. 0/4), got {text!r}")
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1 or not 0 <= index < total:
        raise ValueError(f"shard {text!r}: need n >= 1 and 0 <= i < n (shards are numbered 0 .. n-1)")
    return index, total


def process_rank() -> tuple[int, int]:
    """(rank, world size) of this process in a multi-process launch (``torchrun``, ``accelerate launch``:
    both set ``RANK`` and ``WORLD_SIZE``), else (0, 1). No process group is needed: the processes share
    nothing but the output folder."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("RANK", "0") or 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"invalid RANK={rank} / WORLD_SIZE={world} in the environment")
    return rank, world


def select_items(
    items: Sequence[WorkItem], shard: tuple[int, int] = (0, 1), rank: tuple[int, int] = (0, 1)
) -> list[WorkItem]:
    """The items of one shard (``index % n == i``) and, within it, of one process (every ``world``-th).

    The shards partition the plan, and the processes of a shard partition the shard, whatever the
    number of processes each shard runs with.
    """
    i, n = shard
    r, world = rank
    mine = [it for it in items if it.index % n == i]
    return mine[r::world]
