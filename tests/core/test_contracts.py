"""The frozen contracts of DESIGN.md §3: validation names field and value; JSON round trips are exact."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from defect_core.concept_card import (
    CONCEPT_FORMAT_VERSION,
    PAPER_TEXT_ENCODER_TARGETS,
    PAPER_UNET_TARGETS,
    BaseModelRef,
    ConceptCard,
)
from defect_core.defect_example import DefectExample
from defect_core.sample_record import SampleRecord

FINGERPRINT = "0123456789abcdef"


def base_ref(**kw: Any) -> BaseModelRef:
    return BaseModelRef(**{"id": "builtin:tiny", "fingerprint": FINGERPRINT, **kw})


def card(**kw: Any) -> ConceptCard:
    values: dict[str, Any] = {
        "object_name": "bottle",
        "defect_name": "broken_large",
        "base_model": base_ref(),
        "created": "2025-01-02T03:04:05+00:00",
    }
    return ConceptCard(**{**values, **kw})


def example(**kw: Any) -> DefectExample:
    values: dict[str, Any] = {
        "image": Path("/data/bottle/test/broken_large/000.png"),
        "mask": Path("/data/bottle/ground_truth/broken_large/000_mask.png"),
        "object_name": "bottle",
        "defect_name": "broken_large",
    }
    return DefectExample(**{**values, **kw})


def record(**kw: Any) -> SampleRecord:
    values: dict[str, Any] = {
        "item_id": "bottle_broken_large_0000",
        "image": Path("/out/defect/bottle_broken_large_0000.png"),
        "mask": Path("/out/mask/bottle_broken_large_0000.png"),
        "source_image": Path("/data/good/000.png"),
        "mask_source": "held-out:/data/gt/003_mask.png",
        "defect_name": "broken_large",
        "seed": 7,
        "base_model": "builtin:tiny",
        "concept": "bottle/broken_large",
    }
    return SampleRecord(**{**values, **kw})


def check_names_field_and_value(make, field_name: str, value: Any) -> None:
    with pytest.raises(ValueError) as info:
        make(**{field_name: value})
    message = str(info.value)
    assert f".{field_name}=" in message, message
    assert repr(value) in message, message


# -- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("object_name", ""),
        ("object_name", "   "),
        ("defect_name", ""),
        ("mask_threshold", 0),
        ("mask_threshold", 256),
        ("image", 3.5),
    ],
)
def test_defect_example_rejects(field_name: str, value: Any) -> None:
    check_names_field_and_value(example, field_name, value)


def test_defect_example_rejects_mask_equal_to_image() -> None:
    with pytest.raises(ValueError, match=r"DefectExample\.mask=.*same file"):
        example(mask=Path("/data/bottle/test/broken_large/000.png"))


def test_defect_example_accepts_strings_as_paths() -> None:
    ex = example(image="a.png", mask="b.png")
    assert ex.image == Path("a.png") and ex.mask == Path("b.png")


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("id", ""),
        ("fingerprint", "XYZ"),
        ("fingerprint", "0123456789ABCDEF"),  # upper case: not what model_fingerprint writes
        ("fingerprint", "0123"),  # too short to tell architectures apart
        ("weights_fingerprint", "not hex"),
        ("loaded", ""),
        ("revision", "two words"),
    ],
)
def test_base_model_ref_rejects(field_name: str, value: Any) -> None:
    check_names_field_and_value(base_ref, field_name, value)


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("object_name", " "),
        ("defect_name", ""),
        ("token", ""),
        ("token", "two words"),
        ("format_version", 0),
        ("format_version", 1.5),
        ("lora_rank", 0),
        ("lora_alpha", 0.0),
        ("lora_dropout", 1.0),
        ("lora_dropout", -0.1),
        ("resolution", 500),
        ("resolution", 0),
        ("unet_targets", ()),
        ("base_model", "builtin:tiny"),
    ],
)
def test_concept_card_rejects(field_name: str, value: Any) -> None:
    check_names_field_and_value(card, field_name, value)


def test_concept_card_defaults_are_the_papers() -> None:
    c = card()
    assert (c.token, c.lora_rank, c.lora_alpha, c.lora_dropout, c.resolution) == ("sks", 8, 16.0, 0.1, 512)
    assert c.unet_targets == ("to_q", "to_k", "to_v", "to_out.0") == PAPER_UNET_TARGETS
    assert c.text_encoder_targets == ("q_proj", "k_proj", "v_proj", "out_proj") == PAPER_TEXT_ENCODER_TARGETS
    assert c.format_version == CONCEPT_FORMAT_VERSION
    assert c.concept_id == "bottle/broken_large"


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("item_id", ""),
        ("seed", -1),
        ("selection_metric", "fid"),
        ("candidate_index", 3),
        ("candidate_index", -1),
    ],
)
def test_sample_record_rejects(field_name: str, value: Any) -> None:
    check_names_field_and_value(lambda **kw: record(scores=(0.1, 0.2, 0.3), **kw), field_name, value)


def test_sample_record_rejects_nan_score() -> None:
    with pytest.raises(ValueError, match=r"SampleRecord\.scores=.*nan"):
        record(scores=(0.1, float("nan")))


@pytest.mark.parametrize(("concept", "prompt"), [(None, None), ("bottle/broken_large", "white marks")])
def test_sample_record_needs_exactly_one_of_concept_and_prompt(
    concept: str | None, prompt: str | None
) -> None:
    with pytest.raises(ValueError, match=r"SampleRecord\.concept=.*exactly one"):
        record(concept=concept, prompt=prompt)


def test_contracts_are_frozen() -> None:
    for obj, name in ((example(), "object_name"), (card(), "token"), (record(), "seed"), (base_ref(), "id")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, "x")


# -- JSON round trips -----------------------------------------------------------------------------------


def test_defect_example_round_trip_without_folder() -> None:
    ex = example()
    assert DefectExample.from_json(ex.to_json()) == ex
    ex_rel = example(image=Path("images/a.png"), mask=Path("masks/a.png"), mask_threshold=1)
    assert DefectExample.from_json(ex_rel.to_json()) == ex_rel


def test_paths_are_written_relative_to_the_folder_and_resolved_back(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    ex = example(image=folder / "defect" / "a.png", mask=tmp_path / "masks" / "a_mask.png")
    data = json.loads(ex.to_json(relative_to=folder))
    # inside the folder: a plain relative path; outside it: climbs with "..", in POSIX form
    assert data["image"] == "defect/a.png"
    assert data["mask"] == "../masks/a_mask.png"
    back = DefectExample.from_json(json.dumps(data), base=folder)
    assert back == ex
    # the folder moved as a whole: paths inside it follow it
    moved = DefectExample.from_dict(data, base=tmp_path / "elsewhere" / "out")
    assert moved.image == tmp_path / "elsewhere" / "out" / "defect" / "a.png"


def test_relative_path_in_memory_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "runs" / "out"
    ex = example(image=Path("data/a.png"), mask=Path("data/a_mask.png"))
    data = ex.to_dict(relative_to=folder)
    assert data["image"] == "../../data/a.png"
    back = DefectExample.from_dict(data, base=folder)
    assert back.image == tmp_path / "data" / "a.png"
    assert back.mask == tmp_path / "data" / "a_mask.png"


def test_concept_card_round_trip() -> None:
    c = card(
        token="zwx",
        lora_rank=4,
        lora_alpha=8.0,
        resolution=64,
        unet_targets=("to_q", "to_v"),
        training_config={"steps": 2000, "lr": 2e-4, "losses": {"def": 0.5, "obj": 0.2}, "size": [64, 64]},
        package_version="0.1.0",
    )
    text = c.to_json()
    back = ConceptCard.from_json(text)
    assert back == c
    assert isinstance(back.base_model, BaseModelRef)
    assert isinstance(back.unet_targets, tuple)
    raw = json.loads(text)
    assert raw["base_model"] == {
        "id": "builtin:tiny",
        "fingerprint": FINGERPRINT,
        "weights_fingerprint": None,
        "loaded": None,
        "revision": None,
    }
    assert raw["unet_targets"] == ["to_q", "to_v"]


def test_concept_card_alpha_written_as_integer_reads_as_float() -> None:
    raw = json.loads(card().to_json())
    raw["lora_alpha"] = 16
    back = ConceptCard.from_dict(raw)
    assert isinstance(back.lora_alpha, float) and back == card()


def test_from_dict_rejects_unknown_keys_and_non_objects() -> None:
    raw = json.loads(card().to_json())
    raw["lora_rnak"] = 8
    with pytest.raises(ValueError, match="lora_rnak"):
        ConceptCard.from_dict(raw)
    with pytest.raises(ValueError, match="expected a JSON object"):
        ConceptCard.from_dict([1, 2])  # type: ignore[arg-type]


def test_from_dict_validates() -> None:
    raw = json.loads(card().to_json())
    raw["lora_rank"] = 0
    with pytest.raises(ValueError, match=r"ConceptCard\.lora_rank=0"):
        ConceptCard.from_dict(raw)


def test_sample_record_round_trip_relative_to_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rec = record(
        image=out / "defect" / "x.png",
        mask=out / "mask" / "x.png",
        source_image=tmp_path / "good" / "001.png",
        concept=None,
        prompt='white "marks" on the wall',
        candidate_index=2,
        selection_metric="psnr",
        scores=(3, 2.5, 1.25),
        candidates=(
            out / "candidates" / "x_0.png",
            out / "candidates" / "x_1.png",
            out / "candidates" / "x_2.png",
        ),
        sampler={"steps": 50, "guidance": 7.5, "scheduler": "DDIM"},
        package_version="0.1.0",
    )
    assert rec.scores == (3.0, 2.5, 1.25)
    data = json.loads(rec.to_json(relative_to=out))
    assert data["image"] == "defect/x.png"
    assert data["mask"] == "mask/x.png"
    assert data["source_image"] == "../good/001.png"
    assert data["candidates"] == ["candidates/x_0.png", "candidates/x_1.png", "candidates/x_2.png"]
    back = SampleRecord.from_json(json.dumps(data), base=out)
    assert back == rec
    assert all(isinstance(p, Path) for p in back.candidates)
