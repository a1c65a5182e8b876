"""The Defect-Gen generator folder: two ``UNet2DModel`` folders, a scheduler and the card, in diffusers' layout.

```
generator/
  large/config.json  large/diffusion_pytorch_model.safetensors    UNet2DModel.from_pretrained("generator/large")
  small/config.json  small/diffusion_pytorch_model.safetensors
  scheduler/scheduler_config.json                                  DDPMScheduler.from_pretrained(...)
  defectgen.json                                                   GeneratorCard (classes, switch step, hashes, …)
```

Weights are safetensors only: a pickle (``.bin``, ``.pt``, ``.ckpt``) can run code when it is loaded, so one is
never loaded, and a folder that has only pickled weights is refused. The card holds the sha256 of both weight
files, so a truncated, swapped or edited file is caught before sampling.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from defect_core.atomic import write_text_atomic
from defect_core.errors import GeneratorFolderError
from defect_core.generator_card import (
    GENERATOR_CARD_NAME,
    GENERATOR_NETWORKS,
    GeneratorCard,
    read_generator_card,
)
from defect_sample.defectgen.schedule import PREDICTION_TYPE, make_scheduler
from defect_sample.model_loading import _dtype_argument

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
SCHEDULER_DIR = "scheduler"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_RECORDED_PACKAGES = ("defect-core", "defect-sample", "torch", "diffusers", "safetensors")


@dataclass
class DefectGenerator:
    """A loaded generator: the large- and small-receptive-field networks (eval mode), the scheduler of the
    training schedule and the card. ``path`` is the folder it was loaded from."""

    large: UNet2DModel
    small: UNet2DModel
    scheduler: DDPMScheduler | DDIMScheduler
    card: GeneratorCard
    path: Path | None = None

    @property
    def device(self) -> torch.device:
        return self.large.device

    @property
    def dtype(self) -> torch.dtype:
        return self.large.dtype


def file_sha256(path: str | Path) -> str:
    """Lowercase hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in _RECORDED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _check_network(net: UNet2DModel, name: str, card: GeneratorCard, where: Path) -> None:
    """The network takes and returns the card's channels, and the card's resolution fits its levels."""
    channels = (int(net.config.in_channels), int(net.config.out_channels))
    if channels != (card.num_channels, card.num_channels):
        raise GeneratorFolderError(
            where,
            f"the {name} network has {channels[0]} input / {channels[1]} output channels, but the card's "
            f"{len(card.classes)} class(es) need {card.num_channels} (RGB + background + each class)",
        )
    factor = 2 ** (len(net.config.block_out_channels) - 1)
    if card.resolution % factor:
        raise GeneratorFolderError(
            where,
            f"resolution {card.resolution} is not a multiple of {factor}, which the {name} network's "
            f"{len(net.config.block_out_channels)} levels need",
        )


def save_generator(folder: str | Path, large: UNet2DModel, small: UNet2DModel, card: GeneratorCard) -> Path:
    """Write a generator folder (layout in the module docstring) and return its path.

    ``card.weights_sha256`` is filled in with the hashes of the files written (and ``package_versions``
    with the installed versions of the packages it does not name). Everything is written into a temporary
    sibling folder first; an existing generator at ``folder`` is replaced only once the new one is complete.
    Raises :class:`GeneratorFolderError` when a network's channels do not fit the card's classes.
    """
    folder = Path(folder).resolve()
    for name, net in (("large", large), ("small", small)):
        _check_network(net, name, card, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        hashes = {}
        for name, net in (("large", large), ("small", small)):
            net.save_pretrained(tmp / name, safe_serialization=True)
            hashes[name] = file_sha256(tmp / name / WEIGHTS_NAME)
        make_scheduler(card.num_train_timesteps).save_pretrained(tmp / SCHEDULER_DIR)
        final_card = dataclasses.replace(
            card,
            weights_sha256=hashes,
            package_versions={**_package_versions(), **card.package_versions},
        )
        write_text_atomic(tmp / GENERATOR_CARD_NAME, final_card.to_json(indent=2) + "\n")
        if folder.exists():
            # two renames: between them the old generator is at `old` (a crash there leaves it, complete)
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("generator written to %s", folder)
    return folder


def _network_weights(folder: Path, name: str) -> Path:
    sub = folder / name
    if not sub.is_dir():
        raise GeneratorFolderError(sub, f"the {name} network's folder is missing (incomplete generator)")
    if not (sub / "config.json").is_file():
        raise GeneratorFolderError(sub / "config.json", f"the {name} network's config is missing")
    weights = sub / WEIGHTS_NAME
    if weights.is_file():
        pickles = sorted(p.name for p in sub.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            logger.warning("%s: ignoring pickle file(s) %s, loading %s only", sub, pickles, WEIGHTS_NAME)
        return weights
    pickles = sorted(p for p in sub.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise GeneratorFolderError(
            pickles[0],
            "pickled weights are never loaded (a pickle can run code); save the network with "
            "save_pretrained(safe_serialization=True) or convert it to safetensors",
        )
    raise GeneratorFolderError(weights, f"the {name} network's weights are missing (incomplete generator)")


def _load_network(weights: Path, name: str, expected_sha256: str | None, dtype: torch.dtype) -> UNet2DModel:
    if expected_sha256 is None:
        raise GeneratorFolderError(
            weights.parents[1] / GENERATOR_CARD_NAME, f"the card records no sha256 for the {name} network"
        )
    actual = file_sha256(weights)
    if actual != expected_sha256:
        raise GeneratorFolderError(
            weights,
            f"sha256 {actual[:16]}… differs from the card's {expected_sha256[:16]}…: the file is corrupt, "
            "truncated or not the one this generator was saved with",
        )
    try:
        # the dtype at load time: casting afterwards makes diffusers warn about modules kept in float32
        net = UNet2DModel.from_pretrained(weights.parent, use_safetensors=True, **_dtype_argument(dtype))
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise GeneratorFolderError(weights.parent, f"cannot load the {name} network ({exc})") from exc
    return net


def _load_scheduler(folder: Path, card: GeneratorCard) -> DDPMScheduler:
    sub = folder / SCHEDULER_DIR
    if not (sub / DDPMScheduler.config_name).is_file():
        raise GeneratorFolderError(sub / DDPMScheduler.config_name, "the scheduler config is missing")
    try:
        scheduler = DDPMScheduler.from_pretrained(sub)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GeneratorFolderError(sub, f"cannot load the scheduler ({exc})") from exc
    if scheduler.config.prediction_type != PREDICTION_TYPE:
        raise GeneratorFolderError(
            sub,
            f"prediction_type {scheduler.config.prediction_type!r}: Defect-Gen networks predict x0 ('sample')",
        )
    if int(scheduler.config.num_train_timesteps) != card.num_train_timesteps:
        raise GeneratorFolderError(
            sub,
            f"num_train_timesteps {scheduler.config.num_train_timesteps} differs from the card's "
            f"{card.num_train_timesteps}",
        )
    return scheduler


def load_generator(
    folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> DefectGenerator:
    """Load a generator folder written by :func:`save_generator`; both networks in eval mode on ``device``.

    Raises :class:`GeneratorFolderError` naming the file for a missing folder, card, network folder, config,
    weights or scheduler, pickled weights, a sha256 that differs from the card's, or a network whose channels
    do not fit the card's classes.
    """
    folder = Path(folder).resolve()
    card = read_generator_card(folder)
    nets = {}
    for name in GENERATOR_NETWORKS:
        weights = _network_weights(folder, name)
        net = _load_network(weights, name, card.weights_sha256.get(name), dtype)
        _check_network(net, name, card, weights.parent)
        nets[name] = net.to(device=device).eval().requires_grad_(False)
    scheduler = _load_scheduler(folder, card)
    return DefectGenerator(
        large=nets["large"], small=nets["small"], scheduler=scheduler, card=card, path=folder
    )
