"""A trained model run over images: class probabilities, defect scores or anomaly maps at the images' own size."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from defect_core.images import load_rgb
from defect_inspect.data.torch_dataset import InputSize, image_to_tensor
from defect_inspect.training.checkpoint import CheckpointInfo
from defect_inspect.training.device import autocast, autocast_dtype
from defect_inspect.training.tasks import create_task

logger = logging.getLogger(__name__)


class _ImageFiles(Dataset):
    def __init__(self, paths: Sequence[Path], size: InputSize) -> None:
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        image = load_rgb(self.paths[index])
        return {
            "image": image_to_tensor(image, self.size),
            "height": image.height,
            "width": image.width,
            "index": index,
        }


@dataclass
class Inference:
    """Outputs for N images, in input order.

    classifier: ``probabilities`` float32 (N, C) over ``info.classes``; detector: ``scores`` float32 (N,),
    P(defect); segmenter: ``maps``, N float32 (H_i, W_i) arrays of P(defect) in [0, 1] at each image's own
    size, ``model_maps``, the same N maps at the model's input size (H, W) before that resize, and with
    ``multiclass`` ``label_maps``, N int64 (H_i, W_i) arrays of class indices.
    """

    probabilities: np.ndarray | None = None
    scores: np.ndarray | None = None
    maps: list[np.ndarray] = field(default_factory=list)
    model_maps: list[np.ndarray] = field(default_factory=list)
    label_maps: list[np.ndarray] = field(default_factory=list)


@torch.no_grad()
def run_inference(
    model: nn.Module,
    info: CheckpointInfo,
    images: Sequence[Path],
    *,
    device: torch.device,
    batch_size: int = 16,
    mixed_precision: bool = True,
    num_workers: int = 0,
    progress: bool = False,
) -> Inference:
    """Run ``model`` (described by ``info``) over ``images``; see :class:`Inference` for what comes back.

    Segmenter maps are upsampled from the model's resolution to each image's size bilinearly (class
    probabilities first, then the argmax for ``label_maps``), so that they line up with full-size masks.
    """
    task = create_task(info.task, multiclass=info.multiclass)
    amp_dtype = autocast_dtype(device, mixed_precision)
    loader = DataLoader(
        _ImageFiles(images, info.input_hw), batch_size=batch_size, shuffle=False, num_workers=num_workers
    )
    model.to(device).eval()
    out = Inference()
    probabilities: list[np.ndarray] = []
    from tqdm.auto import tqdm

    for batch in tqdm(
        loader, desc=info.task, unit="batch", disable=not progress, dynamic_ncols=True, mininterval=1.0
    ):
        with autocast(device, amp_dtype):
            outputs = model(batch["image"].to(device))
        probs = task.probabilities(outputs.float())
        if info.task != "segmenter":
            probabilities.append(probs.cpu().numpy().astype(np.float32))
            continue
        for k in range(probs.shape[0]):
            size = (int(batch["height"][k]), int(batch["width"][k]))
            full = F.interpolate(probs[k : k + 1], size=size, mode="bilinear", align_corners=False)[0]
            own = probs[k]
            if info.multiclass:
                out.maps.append((1.0 - full[0]).clamp(0.0, 1.0).cpu().numpy().astype(np.float32))
                out.model_maps.append((1.0 - own[0]).clamp(0.0, 1.0).cpu().numpy().astype(np.float32))
                out.label_maps.append(full.argmax(dim=0).cpu().numpy().astype(np.int64))
            else:
                out.maps.append(full[0].clamp(0.0, 1.0).cpu().numpy().astype(np.float32))
                out.model_maps.append(own[0].clamp(0.0, 1.0).cpu().numpy().astype(np.float32))
    if info.task == "classifier":
        out.probabilities = (
            np.concatenate(probabilities) if probabilities else np.zeros((0, len(info.classes)), np.float32)
        )
    elif info.task == "detector":
        out.scores = np.concatenate(probabilities) if probabilities else np.zeros(0, np.float32)
    return out
