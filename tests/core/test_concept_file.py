"""Concept files: one .safetensors with LoRA tensors and a ConceptCard; anything else is refused by name."""

from __future__ import annotations

import dataclasses
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from defect_core.concept_card import CONCEPT_FORMAT_VERSION, BaseModelRef, ConceptCard
from defect_core.concept_file import (
    CARD_METADATA_KEY,
    list_concept_tensor_names,
    load_concept,
    read_concept_card,
    save_concept,
)
from defect_core.errors import ConceptFileError


def make_card(**kw) -> ConceptCard:
    return ConceptCard(
        object_name="bottle",
        defect_name="scratch",
        base_model=BaseModelRef(id="builtin:tiny", fingerprint="0123456789abcdef"),
        training_config={"steps": 10, "lr_unet": 2e-4},
        **kw,
    )


def make_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": rng.standard_normal(
            (8, 32)
        ).astype(np.float32),
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": rng.standard_normal(
            (32, 8)
        ).astype(np.float32),
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight": rng.standard_normal(
            (8, 32)
        ).astype(np.float16),
        "unet.scalar_like": np.array([3], dtype=np.int64),
    }


@pytest.fixture
def concept_path(tmp_path: Path) -> Path:
    return save_concept(tmp_path / "bottle_scratch.safetensors", make_tensors(), make_card())


def test_round_trip_of_tensors_and_card(concept_path: Path) -> None:
    concept = load_concept(concept_path)
    expected = make_tensors()
    assert concept.card == make_card()
    assert concept.path == concept_path
    assert sorted(concept.tensors) == sorted(expected)
    for key, value in expected.items():
        assert concept.tensors[key].dtype == value.dtype
        np.testing.assert_array_equal(concept.tensors[key], value)
    assert read_concept_card(concept_path) == make_card()
    assert list_concept_tensor_names(concept_path) == sorted(expected)


def test_file_is_plain_safetensors_with_card_json_in_metadata(concept_path: Path) -> None:
    # parse the header by hand (safetensors spec: u64 little-endian size, then JSON)
    data = concept_path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    card = json.loads(header["__metadata__"][CARD_METADATA_KEY])
    assert card["format_version"] == CONCEPT_FORMAT_VERSION
    assert card["object_name"] == "bottle" and card["token"] == "sks"
    assert set(header) - {"__metadata__"} == set(make_tensors())


def test_non_contiguous_arrays_are_written_by_value(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    path = save_concept(tmp_path / "c.safetensors", {"unet.w": base.T}, make_card())
    np.testing.assert_array_equal(load_concept(path).tensors["unet.w"], base.T)


def expect_refusal(path: Path, *needles: str) -> None:
    for read in (load_concept, read_concept_card, list_concept_tensor_names):
        with pytest.raises(ConceptFileError) as info:
            read(path)
        message = str(info.value)
        assert str(path) in message, message
        assert info.value.path == path
        for needle in needles:
            assert needle in message, message


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_refuses_a_pickle(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "concept.safetensors"
    path.write_bytes(pickle.dumps({"unet.w": np.zeros(3)}, protocol=protocol))
    expect_refusal(path, "pickle")


def test_every_header_length_residue_loads(tmp_path: Path) -> None:
    """safetensors pads its header to 8 bytes, so the length's low byte takes 32 values; 0x80 is pickle's PROTO."""
    seen: dict[int, Path] = {}
    for n in range(1, 400):
        path = tmp_path / f"c{n}.safetensors"
        save_concept(path, make_tensors(), dataclasses.replace(make_card(), defect_name="d" * n))
        (size,) = struct.unpack("<Q", path.read_bytes()[:8])
        seen.setdefault(size & 0xFF, path)
        if len(seen) == 32:
            break
    assert sorted(seen) == list(range(0, 256, 8))
    assert seen[0x80].read_bytes()[:1] == b"\x80"
    for path in seen.values():
        concept = load_concept(path)
        assert set(concept.tensors) == set(make_tensors())
        assert list_concept_tensor_names(path) == sorted(make_tensors())


def test_refuses_a_zip_checkpoint(tmp_path: Path) -> None:
    # torch.save writes a zip archive holding data.pkl; refused by name, never opened
    path = tmp_path / "concept.safetensors"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"unet.w": [0.0]}, protocol=2))
    expect_refusal(path, "pickle")


def test_refuses_an_old_protocol_pickle(tmp_path: Path) -> None:
    path = tmp_path / "concept.safetensors"
    path.write_bytes(pickle.dumps({"unet.w": [0.0, 1.0]}, protocol=0))
    expect_refusal(path, "not a safetensors file")


def test_refuses_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    expect_refusal(path, "not a safetensors file")


@pytest.mark.parametrize("keep", [4, 20, -3])
def test_refuses_a_truncated_file(concept_path: Path, keep: int) -> None:
    data = concept_path.read_bytes()
    concept_path.write_bytes(data[:keep])
    # cut in the size field, in the JSON header, or in the tensor data: every reader notices, cheap ones too
    expect_refusal(concept_path)
    for read in (load_concept, read_concept_card, list_concept_tensor_names):
        with pytest.raises(ConceptFileError, match="too short|truncated"):
            read(concept_path)


def test_refuses_safetensors_without_a_card(tmp_path: Path) -> None:
    path = tmp_path / "plain_lora.safetensors"
    save_file({"unet.w": np.zeros((2, 2), np.float32)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ConceptFileError, match="no defectfill concept card") as info:
        load_concept(path)
    assert str(path) in str(info.value)
    # the tensors themselves are readable: it is a plain LoRA file, not a broken one
    assert list_concept_tensor_names(path) == ["unet.w"]


def test_refuses_a_card_with_a_newer_format_version(tmp_path: Path) -> None:
    path = save_concept(
        tmp_path / "future.safetensors",
        make_tensors(),
        dataclasses.replace(make_card(), format_version=CONCEPT_FORMAT_VERSION + 1),
    )
    with pytest.raises(ConceptFileError, match=f"version {CONCEPT_FORMAT_VERSION + 1} is newer") as info:
        load_concept(path)
    assert str(path) in str(info.value)


def test_refuses_an_invalid_card(tmp_path: Path) -> None:
    path = tmp_path / "bad_card.safetensors"
    raw = json.loads(make_card().to_json())
    raw["lora_rank"] = 0
    save_file({"unet.w": np.zeros(2, np.float32)}, str(path), metadata={CARD_METADATA_KEY: json.dumps(raw)})
    with pytest.raises(ConceptFileError, match=r"invalid concept card.*lora_rank=0") as info:
        read_concept_card(path)
    assert str(path) in str(info.value)


def test_refuses_a_missing_file(tmp_path: Path) -> None:
    expect_refusal(tmp_path / "absent.safetensors", "does not exist")


@pytest.mark.parametrize(
    ("name", "tensors", "needle"),
    [
        ("c.pt", {"unet.w": np.zeros(2, np.float32)}, ".safetensors suffix"),
        ("c.safetensors", {}, "without tensors"),
        ("c.safetensors", {"vae.w": np.zeros(2, np.float32)}, "must start with 'unet.' or 'text_encoder.'"),
    ],
)
def test_save_refuses_bad_input(tmp_path: Path, name: str, tensors: dict, needle: str) -> None:
    with pytest.raises(ConceptFileError, match=needle.replace(".", r"\.")):
        save_concept(tmp_path / name, tensors, make_card())
    assert not (tmp_path / name).exists()


def test_existing_file_is_not_clobbered_when_writing_fails(concept_path: Path) -> None:
    before = concept_path.read_bytes()
    bad = {"unet.w": np.array([object(), object()], dtype=object)}  # safetensors cannot store objects
    with pytest.raises(ConceptFileError, match="cannot serialize") as info:
        save_concept(concept_path, bad, make_card())
    assert str(concept_path) in str(info.value)
    assert concept_path.read_bytes() == before
    assert sorted(p.name for p in concept_path.parent.iterdir()) == [concept_path.name]
    assert load_concept(concept_path).card == make_card()


def test_existing_file_is_not_clobbered_when_the_disk_write_fails(
    concept_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import defect_core.atomic

    before = concept_path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(defect_core.atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        save_concept(concept_path, {"unet.other": np.ones(5, np.float32)}, make_card())
    assert concept_path.read_bytes() == before
    assert sorted(p.name for p in concept_path.parent.iterdir()) == [concept_path.name]
