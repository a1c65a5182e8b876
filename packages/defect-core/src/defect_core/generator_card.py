"""``GeneratorCard``: the JSON card of a Defect-Gen generator folder (Defect Spectrum, DESIGN.md §4b).

A generator is a folder in diffusers' layout: ``large/`` and ``small/`` (two ``UNet2DModel`` folders with
safetensors weights), ``scheduler/`` and this card as :data:`GENERATOR_CARD_NAME`. The card says what the two
networks make (the object, its defect classes, the resolution), how they share one reverse process (the
switch step) and where they came from (the resolved training config and data, package versions, the sha256
of both weight files, so a swapped or corrupted weight file is caught before sampling). defect-sample writes
and loads the folder (it needs torch); this module only reads the card, so tools without torch can list a
generator's classes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from defect_core.class_labels import validate_class_table
from defect_core.configs import require
from defect_core.errors import GeneratorFolderError
from defect_core.serialization import JsonDataclass

GENERATOR_CARD_NAME = "defectgen.json"
GENERATOR_FORMAT_VERSION = 1
GENERATOR_SIZES = ("paper", "cpu")
"""``paper``: the published network pair; ``cpu``: a scaled-down pair that trains in minutes on a CPU."""
GENERATOR_NETWORKS = ("large", "small")
"""The two networks of a generator, also the names of their subfolders: the large receptive field runs the
noisy steps t >= switch_step, the small one the steps below."""
IMAGE_CHANNELS = 3

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class GeneratorCard(JsonDataclass):
    """Metadata of a Defect-Gen generator (``defectgen.json`` in the generator folder).

    ``classes`` are the defect classes ``{1: name, ...}`` (0, the background, is implicit): a sample has
    :attr:`num_channels` channels, RGB in [-1, 1] then the one-hot mask over background + each class.
    ``switch_step``: the large network runs t = num_train_timesteps-1 … switch_step, the small one
    switch_step-1 … 0 (0 = large network only, num_train_timesteps = small network only).
    ``weights_sha256``: ``{"large": hex, "small": hex}`` of the two safetensors files (filled in when the
    folder is saved; empty on a card that has not been saved yet).
    """

    format_version: int = GENERATOR_FORMAT_VERSION
    object_name: str
    classes: dict[int, str]
    resolution: int = 256
    switch_step: int = 400
    num_train_timesteps: int = 1000
    size: str = "paper"
    training: dict[str, Any] = field(default_factory=dict, hash=False)
    weights_sha256: dict[str, str] = field(default_factory=dict, hash=False)
    package_versions: dict[str, str] = field(default_factory=dict, hash=False)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        require(
            self,
            isinstance(self.format_version, int) and self.format_version >= 1,
            "format_version",
            "must be an integer >= 1",
        )
        require(
            self,
            self.format_version <= GENERATOR_FORMAT_VERSION,
            "format_version",
            f"is newer than this reader understands ({GENERATOR_FORMAT_VERSION}); upgrade defect-core",
        )
        require(
            self,
            isinstance(self.object_name, str) and bool(self.object_name.strip()),
            "object_name",
            "must be non-empty",
        )
        try:
            object.__setattr__(self, "classes", validate_class_table(self.classes, "classes"))
        except ValueError as exc:
            raise ValueError(f"GeneratorCard.{exc}") from None
        require(self, len(self.classes) >= 1, "classes", "must name at least one defect class")
        # one-hot channels: ids must be 1..n without gaps, channel 3 + k is class k
        require(
            self,
            list(self.classes) == list(range(1, len(self.classes) + 1)),
            "classes",
            "ids must be 1..n without gaps (channel 3 + k holds class k)",
        )
        require(
            self,
            isinstance(self.resolution, int) and self.resolution >= 8 and self.resolution % 8 == 0,
            "resolution",
            "must be a positive multiple of 8",
        )
        require(
            self,
            isinstance(self.num_train_timesteps, int) and self.num_train_timesteps >= 1,
            "num_train_timesteps",
            "must be an integer >= 1",
        )
        require(
            self,
            isinstance(self.switch_step, int) and 0 <= self.switch_step <= self.num_train_timesteps,
            "switch_step",
            f"must be in 0..num_train_timesteps ({self.num_train_timesteps})",
        )
        require(self, self.size in GENERATOR_SIZES, "size", f"must be one of {GENERATOR_SIZES}")
        require(self, isinstance(self.training, dict), "training", "must be a dict")
        require(
            self,
            isinstance(self.weights_sha256, dict)
            and set(self.weights_sha256) <= set(GENERATOR_NETWORKS)
            and all(isinstance(v, str) and _SHA256.fullmatch(v) for v in self.weights_sha256.values()),
            "weights_sha256",
            f"must map {GENERATOR_NETWORKS} to lowercase sha256 hex digests",
        )
        require(
            self,
            isinstance(self.package_versions, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in self.package_versions.items()),
            "package_versions",
            "must map package names to version strings",
        )

    @property
    def num_channels(self) -> int:
        """Channels of a sample and of both networks' input and output: RGB + background + each class."""
        return IMAGE_CHANNELS + len(self.classes) + 1

    @property
    def generator_id(self) -> str:
        """A readable id, ``defectgen:<object>``, recorded as ``concept`` in the manifests it writes."""
        return f"defectgen:{self.object_name}"


def read_generator_card(folder: str | Path) -> GeneratorCard:
    """Read ``<folder>/defectgen.json``; a missing, unreadable or invalid card raises
    :class:`GeneratorFolderError` naming the file and the problem."""
    path = Path(folder) / GENERATOR_CARD_NAME
    if not Path(folder).is_dir():
        raise GeneratorFolderError(folder, "generator folder does not exist")
    if not path.is_file():
        raise GeneratorFolderError(path, "generator card is missing: not a Defect-Gen generator folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return GeneratorCard.from_dict(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeneratorFolderError(path, f"generator card cannot be read ({exc})") from None
    except (TypeError, ValueError) as exc:
        raise GeneratorFolderError(path, f"invalid generator card ({exc})") from None
