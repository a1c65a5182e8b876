"""The deterministic job plan: seeds, balanced choices, shards and processes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from defect_sample.job_plan import (
    PlanGroup,
    balanced_pick,
    derive_seed,
    parse_shard,
    plan_work_items,
    process_rank,
    select_items,
)

NORMALS = [Path(f"good/{i:03d}.png") for i in range(5)]
MASKS = tuple(Path(f"masks/{i}.png") for i in range(3))


def groups() -> list[PlanGroup]:
    return [
        PlanGroup("concept:tile/crack", "crack", "crack", mask_paths=MASKS),
        PlanGroup("concept:tile/stain", "stain", "stain", shapes=("star", "ellipse")),
    ]


def test_derive_seed_is_a_stable_hash_in_range():
    assert derive_seed(0, "a", 1) == derive_seed(0, "a", 1)
    seeds = {derive_seed(s, k, j) for s in (0, 1) for k in ("a", "b") for j in range(50)}
    assert len(seeds) == 200 and all(0 <= s < 2**63 for s in seeds)
    # pinned: the hash must not change between versions, or resumed runs would change their images
    # (blake2b-64 of "0/concept:tile/crack/0", top 63 bits)
    assert derive_seed(0, "concept:tile/crack", 0) == 4815313435598748995
    assert derive_seed(7, "x") == 8991541814357695911


def test_balanced_pick_uses_every_choice_equally_and_depends_only_on_the_index():
    picks = [balanced_pick(5, j, 0, "t") for j in range(20)]
    assert Counter(picks) == {i: 4 for i in range(5)}
    assert sorted(picks[:5]) == list(range(5))  # each round of n is a permutation
    assert picks != [j % 5 for j in range(20)]  # and random, not round-robin
    assert [balanced_pick(5, j, 0, "t") for j in reversed(range(20))] == picks[::-1]


def test_plan_is_fixed_by_the_seed_and_the_index():
    items = plan_work_items(groups(), NORMALS, count=6, seed=3)
    assert [it.item_id for it in items] == [f"crack_{j:05d}" for j in range(6)] + [
        f"stain_{j:05d}" for j in range(6)
    ]
    assert [it.index for it in items] == list(range(12))
    assert all(it.mask_path in MASKS and it.shape is None for it in items[:6])
    assert all(it.shape in ("star", "ellipse") and it.mask_path is None for it in items[6:])
    assert items[0].seed == derive_seed(3, "concept:tile/crack", 0)
    assert items[0].mask_source == str(items[0].mask_path) and items[6].mask_source.startswith("shape:")
    # more items or a concept fewer: the common items are unchanged
    assert plan_work_items(groups(), NORMALS, count=10, seed=3)[:6] == items[:6]
    alone = plan_work_items(groups()[1:], NORMALS, count=6, seed=3)
    assert [(a.item_id, a.normal, a.shape, a.seed) for a in alone] == [
        (b.item_id, b.normal, b.shape, b.seed) for b in items[6:]
    ]
    assert plan_work_items(groups(), NORMALS, count=6, seed=4)[0].seed != items[0].seed


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("world", [1, 2, 4])
def test_shards_and_processes_partition_the_plan(n, world):
    items = plan_work_items(groups(), NORMALS, count=7, seed=0)
    parts = [select_items(items, (i, n), (r, world)) for i in range(n) for r in range(world)]
    ids = [it.item_id for part in parts for it in part]
    assert sorted(ids) == sorted(it.item_id for it in items)  # everything, once
    # a shard's items are the same whatever the number of processes it runs with
    for i in range(n):
        one = {it.item_id for it in select_items(items, (i, n), (0, 1))}
        many = {it.item_id for r in range(world) for it in select_items(items, (i, n), (r, world))}
        assert one == many == {it.item_id for it in items if it.index % n == i}


@pytest.mark.parametrize(("text", "expected"), [("0/1", (0, 1)), ("3/4", (3, 4)), (" 1 / 2 ", (1, 2))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["4/4", "1/0", "a/b", "1", "-1/2"])
def test_parse_shard_rejects(text):
    with pytest.raises(ValueError, match="shard"):
        parse_shard(text)


def test_process_rank_from_torchrun_or_accelerate_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert process_rank() == (0, 1)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert process_rank() == (2, 4)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK=4"):
        process_rank()


def test_plan_rejects_bad_groups():
    with pytest.raises(ValueError, match="neither mask files nor shapes"):
        plan_work_items([PlanGroup("k", "s", "d")], NORMALS, 1, 0)
    with pytest.raises(ValueError, match="share a file-name prefix"):
        plan_work_items([groups()[0], groups()[0]], NORMALS, 1, 0)
    with pytest.raises(ValueError, match="no normal images"):
        plan_work_items(groups(), [], 1, 0)
