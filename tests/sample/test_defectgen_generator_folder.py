"""The generator folder: round trip in diffusers' layout, atomic replacement, and every bad input as a named
error (pickles refused without being loaded, missing card / weights / scheduler, hash mismatch, truncation,
channels that do not fit the classes)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from defectgen_helpers import CLASSES, tiny_card, tiny_unet, write_tiny_generator
from diffusers import DDPMScheduler, UNet2DModel

from defect_core.errors import GeneratorFolderError
from defect_core.generator_card import GENERATOR_CARD_NAME, GeneratorCard, read_generator_card
from defect_sample.defectgen import load_generator, save_generator
from defect_sample.defectgen.generator_folder import WEIGHTS_NAME, file_sha256


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_generator(tmp_path_factory.mktemp("saved") / "generator")


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    """A private copy of the saved generator to break."""
    return Path(shutil.copytree(saved, tmp_path / "generator"))


def test_round_trip_in_diffusers_layout(saved: Path):
    assert sorted(p.name for p in saved.iterdir()) == [GENERATOR_CARD_NAME, "large", "scheduler", "small"]
    generator = load_generator(saved)
    for name, seed, attention in (("large", 1, True), ("small", 2, False)):
        original = tiny_unet(seed, attention).state_dict()
        loaded = getattr(generator, name).state_dict()
        assert original.keys() == loaded.keys()
        assert all(torch.equal(original[k], loaded[k]) for k in original)
        assert not getattr(generator, name).training
        # plain diffusers reads the same folder
        plain = UNet2DModel.from_pretrained(saved / name)
        assert torch.equal(plain.conv_out.weight, original["conv_out.weight"])
        assert generator.card.weights_sha256[name] == file_sha256(saved / name / WEIGHTS_NAME)
    scheduler = DDPMScheduler.from_pretrained(saved / "scheduler")
    assert scheduler.config.prediction_type == "sample"
    assert scheduler.config.beta_schedule == "squaredcos_cap_v2"
    # the card comes back as written, with the hashes and versions filled in
    card = read_generator_card(saved)
    assert dataclasses.replace(card, weights_sha256={}, package_versions={}) == tiny_card()
    assert {"torch", "diffusers", "defect-core", "defect-sample"} <= set(card.package_versions)
    assert card.num_channels == 3 + 1 + len(CLASSES) and card.classes == CLASSES
    assert generator.card == card and generator.path == saved.resolve()


def test_card_validation_names_the_field():
    with pytest.raises(ValueError, match="GeneratorCard.switch_step=1001"):
        tiny_card(switch_step=1001)
    with pytest.raises(ValueError, match="class id 0"):
        tiny_card(classes={0: "background"})
    with pytest.raises(ValueError, match="without gaps"):
        tiny_card(classes={1: "crack", 3: "hole"})
    with pytest.raises(ValueError, match="size"):
        tiny_card(size="huge")
    with pytest.raises(ValueError, match="weights_sha256"):
        tiny_card(weights_sha256={"large": "abc"})
    card = tiny_card()
    assert GeneratorCard.from_json(card.to_json()) == card  # JSON string keys come back as class ids


def test_an_existing_generator_is_replaced_only_by_a_complete_one(copy: Path, monkeypatch):
    before = read_generator_card(copy)
    small = tiny_unet(3, False)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(small, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        save_generator(copy, tiny_unet(4, True), small, tiny_card())
    assert read_generator_card(copy) == before  # the old generator is untouched
    assert sorted(p.name for p in copy.parent.iterdir()) == ["generator"]  # no temporary folder left
    monkeypatch.undo()
    save_generator(copy, tiny_unet(4, True), tiny_unet(5, False), tiny_card())
    assert read_generator_card(copy).weights_sha256 != before.weights_sha256
    assert sorted(p.name for p in copy.parent.iterdir()) == ["generator"]
    load_generator(copy)


def test_pickled_weights_are_refused_and_never_loaded(copy: Path, monkeypatch):
    weights = copy / "small" / WEIGHTS_NAME
    torch.save(tiny_unet(2, False).state_dict(), copy / "small" / "diffusion_pytorch_model.bin")
    weights.unlink()

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(GeneratorFolderError, match="pickle") as info:
        load_generator(copy)
    assert info.value.path.name == "diffusion_pytorch_model.bin"


def test_missing_card_weights_or_scheduler(copy: Path, tmp_path: Path):
    with pytest.raises(GeneratorFolderError, match="does not exist"):
        load_generator(tmp_path / "nowhere")
    (copy / "scheduler" / "scheduler_config.json").unlink()
    with pytest.raises(GeneratorFolderError, match="scheduler config is missing"):
        load_generator(copy)
    (copy / "large" / WEIGHTS_NAME).unlink()
    with pytest.raises(GeneratorFolderError, match="large network's weights are missing"):
        load_generator(copy)
    shutil.rmtree(copy / "small")
    (copy / GENERATOR_CARD_NAME).unlink()
    with pytest.raises(GeneratorFolderError, match="card is missing") as info:
        load_generator(copy)
    assert info.value.path == copy.resolve() / GENERATOR_CARD_NAME


def test_hash_mismatch_and_truncated_weights(copy: Path):
    weights = copy / "large" / WEIGHTS_NAME
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in a tensor value: still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(GeneratorFolderError, match="sha256") as info:
        load_generator(copy)
    assert info.value.path == weights.resolve()

    # a truncated file whose hash the card was edited to match: the loader itself must fail cleanly
    weights.write_bytes(bytes(data[: len(data) // 2]))
    card = json.loads((copy / GENERATOR_CARD_NAME).read_text())
    card["weights_sha256"]["large"] = file_sha256(weights)
    (copy / GENERATOR_CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(GeneratorFolderError, match="cannot load the large network"):
        load_generator(copy)


def test_channels_must_fit_the_card_classes(copy: Path, tmp_path: Path):
    card = json.loads((copy / GENERATOR_CARD_NAME).read_text())
    card["classes"]["3"] = "stain"
    (copy / GENERATOR_CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(GeneratorFolderError, match="6 input / 6 output channels.*need 7"):
        load_generator(copy)
    with pytest.raises(GeneratorFolderError, match="need 7"):
        save_generator(
            tmp_path / "g2",
            tiny_unet(1, True),
            tiny_unet(2, False),
            tiny_card(classes={1: "a", 2: "b", 3: "c"}),
        )
    assert not (tmp_path / "g2").exists()
    card["classes"].pop("3")
    card["format_version"] = 99
    (copy / GENERATOR_CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(GeneratorFolderError, match="newer than this reader"):
        load_generator(copy)
