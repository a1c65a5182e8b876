"""The pieces behind the proof table's mixed rows and seeds: the 1:1 mix of generated and real defects, the
mean ± standard deviation over seeds, and the paired "beyond the seed spread" verdict, against values
computed by hand or by the standard library."""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

import pytest

from defect_inspect.data.assemble import mix_generated
from defect_inspect.data.items import InspectionItem
from defect_inspect.experiment.seeds import aggregate, compare_rows, mean_std


def _items(label: str, count: int, source: str) -> list[InspectionItem]:
    return [
        InspectionItem(
            Path(f"/{source}/{label}/{i:03d}.png"), Path(f"/{source}/{label}/m{i:03d}.png"), label, source
        )
        for i in range(count)
    ]


def test_mix_keeps_as_many_generated_per_type_as_asked_in_order_and_seeded(caplog) -> None:
    generated = (
        _items("hole", 40, "generated") + _items("scratch", 40, "generated") + _items("dent", 5, "generated")
    )
    real = _items("hole", 10, "real") + _items("scratch", 7, "real")
    mixed = mix_generated(generated, real, 1.0, seed=0)
    counts = {label: sum(i.label == label for i in mixed) for label in ("hole", "scratch", "dent")}
    assert counts == {"hole": 10, "scratch": 7, "dent": 0}  # dent has no real counterpart: not mixed in
    assert set(mixed) <= set(generated)
    assert [generated.index(i) for i in mixed] == sorted(generated.index(i) for i in mixed)  # original order
    assert mixed == mix_generated(generated, real, 1.0, seed=0)
    assert mixed != mix_generated(generated, real, 1.0, seed=1)
    # 2.5 per real: round(25) and round(17.5) = 18 (banker's rounding of Python's round)
    half = mix_generated(generated, real, 2.5, seed=0)
    assert sum(i.label == "hole" for i in half) == 25 and sum(i.label == "scratch" for i in half) == 18
    with caplog.at_level(logging.WARNING):
        few = mix_generated(generated[:3], real, 1.0, seed=0)  # 3 generated holes for 10 real
    assert few == generated[:3] and "fewer than the 10" in caplog.text


def test_mean_and_standard_deviation_are_the_sample_ones() -> None:
    values = [0.61, 0.72, 0.66]
    mean, std = mean_std(values)
    assert mean == pytest.approx(statistics.mean(values))
    assert std == pytest.approx(statistics.stdev(values))
    assert mean_std([0.5]) == (0.5, 0.0)
    table = aggregate(
        {
            0: {"real": {"pixel AP": 0.5, "KID ×10³": None}},
            1: {"real": {"pixel AP": 0.7, "KID ×10³": None}},
        }
    )
    assert table["real"]["KID ×10³"] is None
    assert table["real"]["pixel AP"]["values"] == [0.5, 0.7]
    assert table["real"]["pixel AP"]["mean"] == pytest.approx(0.6)
    assert table["real"]["pixel AP"]["std"] == pytest.approx(statistics.stdev([0.5, 0.7]))


def test_a_difference_holds_only_when_every_seed_agrees_and_it_exceeds_its_spread() -> None:
    # differences 0.10, 0.12, 0.08: same sign, mean 0.10 > sd 0.02
    assert compare_rows([0.6, 0.62, 0.58], [0.5, 0.5, 0.5]) == "higher"
    assert compare_rows([0.5, 0.5, 0.5], [0.6, 0.62, 0.58]) == "lower"
    # differences 0.30, -0.01, 0.20: one seed disagrees
    assert compare_rows([0.8, 0.49, 0.7], [0.5, 0.5, 0.5]) == "within spread"
    # differences 0.01, 0.30, 0.01: same sign, but mean 0.107 < sd 0.167
    assert compare_rows([0.51, 0.8, 0.51], [0.5, 0.5, 0.5]) == "within spread"
    assert compare_rows([0.9], [0.1]) == "within spread"  # one seed proves nothing
    with pytest.raises(ValueError, match="seeds"):
        compare_rows([0.1, 0.2], [0.1])
