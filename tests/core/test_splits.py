"""The AnomalyDiffusion split: per (object, defect), sorted by file name, the first len // 3 train."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defect_core.datasets.splits import Split, resolve_split_rule, select_split, split_examples, train_size
from defect_core.defect_example import DefectExample


def ex(
    name: str, obj: str = "bottle", defect: str = "broken_large", folder: str = "/data/test"
) -> DefectExample:
    image = Path(folder) / defect / name
    return DefectExample(image, image.with_name(image.stem + "_mask.png"), obj, defect)


def names(examples) -> list[str]:
    return [e.image.name for e in examples]


def test_train_size_by_hand() -> None:
    assert [train_size(n) for n in range(10)] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert train_size(20) == 6
    with pytest.raises(ValueError, match="count"):
        train_size(-1)


def test_ten_files_given_shuffled() -> None:
    files = [f"{i:03d}.png" for i in range(10)]
    shuffled = files[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != files
    split = split_examples([ex(n) for n in shuffled])
    assert names(split.train) == ["000.png", "001.png", "002.png"]
    assert names(split.held_out) == [f"{i:03d}.png" for i in range(3, 10)]


def test_two_files_none_for_training() -> None:
    split = split_examples([ex("001.png"), ex("000.png")])
    assert split.train == ()
    assert names(split.held_out) == ["000.png", "001.png"]
    assert split_examples([]) == Split((), ())


def test_sorted_by_file_name_not_path_and_lexicographic() -> None:
    # "/data/a/..." sorts before "/data/b/..." as a path, but the file name decides
    late = ex("2.png", folder="/data/a")
    early = ex("10.png", folder="/data/b")
    third = ex("3.png", folder="/data/a")
    # lexicographic, as sorted() on file names: "10.png" < "2.png" < "3.png"
    split = split_examples([third, late, early])
    assert split.train == (early,)
    assert split.held_out == (late, third)


def test_mixed_categories_split_separately() -> None:
    bottle = [ex(f"{i:03d}.png", "bottle", "broken_large") for i in range(6)]  # 6 // 3 = 2 train
    cable = [ex(f"{i:03d}.png", "cable", "bent_wire") for i in range(4)]  # 4 // 3 = 1 train
    small = [ex(f"{i:03d}.png", "bottle", "broken_small") for i in range(5)]  # 5 // 3 = 1 train
    mixed = bottle + cable + small
    random.Random(0).shuffle(mixed)
    split = split_examples(mixed)
    # groups in sorted (object, defect) order, each sorted by file name
    assert split.train == (bottle[0], bottle[1], small[0], cable[0])
    assert split.held_out == (*bottle[2:], *small[1:], *cable[1:])


def test_select_split() -> None:
    examples = [ex(f"{i:03d}.png") for i in (5, 0, 3, 1, 4, 2)]
    assert names(select_split(examples, "train")) == ["000.png", "001.png"]
    assert names(select_split(examples, "held_out")) == ["002.png", "003.png", "004.png", "005.png"]
    assert names(select_split(examples, "all")) == [f"{i:03d}.png" for i in range(6)]
    # generators are consumed once: select_split must still see every example
    assert len(select_split(iter(examples), "held_out")) == 4
    with pytest.raises(ValueError, match="which must be one of train, held_out, all; got 'test'"):
        select_split(examples, "test")  # type: ignore[arg-type]


def test_split_is_frozen_and_checked() -> None:
    split = split_examples([ex(f"{i}.png") for i in range(3)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.train = ()  # type: ignore[misc]
    assert isinstance(Split([ex("a.png")], []).train, tuple)
    with pytest.raises(ValueError, match="also in train"):
        Split((ex("a.png"),), (ex("a.png"),))


@given(st.lists(st.integers(0, 10_000), unique=True, max_size=40), st.randoms())
def test_split_property(numbers: list[int], rnd: random.Random) -> None:
    files = sorted(f"{n:05d}.png" for n in numbers)
    given_order = files[:]
    rnd.shuffle(given_order)
    split = split_examples([ex(n) for n in given_order])
    # reference: the rule written out directly
    k = len(files) // 3
    assert names(split.train) == files[:k]
    assert names(split.held_out) == files[k:]


def test_first_ten_rule_by_hand() -> None:
    assert [train_size(n, "first-10") for n in (0, 3, 10, 11, 100)] == [0, 3, 10, 10, 10]
    files = [f"{i:03d}.png" for i in range(25)]
    shuffled = files[:]
    random.Random(5).shuffle(shuffled)
    # two categories, each split on its own
    examples = [ex(n) for n in shuffled] + [ex(n, defect="crack") for n in files[:4]]
    split = split_examples(examples, rule="first-10")
    assert names(e for e in split.train if e.defect_name == "broken_large") == files[:10]
    assert names(e for e in split.held_out if e.defect_name == "broken_large") == files[10:]
    assert names(e for e in split.train if e.defect_name == "crack") == files[:4]
    assert not [e for e in split.held_out if e.defect_name == "crack"]
    assert names(select_split(examples[:25], "held_out", "first-10")) == files[10:]
    assert names(select_split(examples[:25], "train", "first-third")) == files[:8]


def test_unknown_split_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="first-third, first-10; got 'first-5'"):
        select_split([ex("a.png")], "train", "first-5")  # type: ignore[arg-type]
    assert resolve_split_rule("auto", "first-10") == "first-10"
    assert resolve_split_rule("first-third", "first-10") == "first-third"
    with pytest.raises(ValueError, match="split rule"):
        resolve_split_rule("auto", "thirds")
