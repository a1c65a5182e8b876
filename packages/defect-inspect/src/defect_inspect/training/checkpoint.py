"""Model checkpoints: the weights in one ``.safetensors`` file, with what rebuilds the model in its metadata.

Never pickled: the metadata is JSON (task, architecture, classes, input size), so ``load_checkpoint``
rebuilds the network with :func:`~defect_inspect.models.create_model` and loads the tensors strictly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from defect_core.atomic import atomic_path
from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

METADATA_KEY = "defect_inspect"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint's network is and how to feed it.

    ``classes``: output classes in order (classifier: defect types; detector: good, defect; segmenter:
    background, defect, or background + defect types with ``multiclass``); ``resolution``: square input size,
    unless ``input_size`` holds a non-square (height, width) (empty in checkpoints from before it existed);
    ``threshold``: the decision threshold of the run.
    """

    task: str
    model: str
    encoder: str | None
    classes: tuple[str, ...]
    num_outputs: int
    resolution: int
    multiclass: bool = False
    threshold: float = 0.5
    epoch: int = 0
    package_version: str = "0.0.0"
    extra: dict[str, str] = field(default_factory=dict)
    input_size: tuple[int, ...] = ()
    label_images: bool = False
    """A segmenter trained on class-index label images (``--classes multi``): ``classes`` are background +
    the merged class table, per pixel; ``multiclass`` is then True too (softmax over ``classes``)."""

    @property
    def input_hw(self) -> tuple[int, int]:
        """The model's input (height, width): ``input_size``, or ``resolution`` square."""
        if self.input_size:
            return int(self.input_size[0]), int(self.input_size[1])
        return self.resolution, self.resolution

    def to_json(self) -> str:
        """JSON text with a format version, as stored in the checkpoint's metadata."""
        return json.dumps({"format": FORMAT_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CheckpointInfo:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data.pop("format", None)
        data["classes"] = tuple(data["classes"])
        data["input_size"] = tuple(data.get("input_size", ()))
        return cls(**data)


def save_checkpoint(model: nn.Module, info: CheckpointInfo, path: str | Path) -> Path:
    """Write the model's weights and ``info`` to ``path`` atomically."""
    from safetensors.torch import save_model

    path = Path(path)
    with atomic_path(path) as tmp:
        # save_model (not save_file) de-duplicates tied tensors, which some timm models have
        save_model(model, str(tmp), metadata={METADATA_KEY: info.to_json()})
    return path


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """The :class:`CheckpointInfo` of a checkpoint file; ``InputFileError`` naming it if it is not one."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "checkpoint file does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for foreign files
        raise InputFileError(path, f"cannot be read as a safetensors checkpoint ({exc})") from exc
    if METADATA_KEY not in metadata:
        raise InputFileError(path, "is not a defect-inspect checkpoint (no 'defect_inspect' metadata)")
    try:
        return CheckpointInfo.from_json(metadata[METADATA_KEY])
    except (ValueError, TypeError, KeyError) as exc:
        raise InputFileError(path, f"has invalid defect-inspect metadata ({exc})") from exc


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild the network of a checkpoint (no ImageNet weights needed) and load its weights; eval mode."""
    from safetensors.torch import load_model

    from defect_inspect.models.registry import create_model

    info = read_checkpoint_info(path)
    model = create_model(
        info.task, info.model, pretrained=False, num_outputs=info.num_outputs, encoder=info.encoder
    )
    try:
        load_model(model, str(path), strict=True, device="cpu")
    except RuntimeError as exc:
        raise InputFileError(path, f"weights do not fit {info.task} {info.model}: {exc}") from exc
    return model.to(device).eval(), info
