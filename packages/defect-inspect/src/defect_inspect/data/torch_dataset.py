"""Items as tensors: resized, normalised images with their masks and class indices.

Images are resized to the model's input size (bilinear): ``resolution`` × ``resolution``, or a non-square
(height, width) such as DIAG's 704 × 256 for KSDD2's tall strips; and normalised with the ImageNet mean and
standard deviation (what timm's and torchvision's ResNets and smp's encoders were trained with). Masks are
resized by :func:`defect_core.masks.resize_mask_covering`: a defect pixel marks every target pixel it
touches (a 1-pixel scratch survives downscaling), the rule DESIGN.md §4 uses for latent masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from defect_core.errors import InputFileError
from defect_core.masks import resize_mask_covering
from defect_inspect.data.items import InspectionItem
from defect_inspect.data.pixel_labels import model_label_target

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

InputSize = int | tuple[int, int]
"""A model input size: ``R`` (square R × R) or ``(height, width)``."""


def input_hw(size: InputSize) -> tuple[int, int]:
    """``(height, width)`` of an input size (an int is a square); ``ValueError`` below 8 pixels."""
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(height, width) < 8:
        raise ValueError(f"input size must be >= 8 pixels per side, got {height} x {width} (H x W)")
    return height, width


def image_to_tensor(image: Image.Image, size: InputSize) -> torch.Tensor:
    """A PIL image as float32 (3, H, W), resized bilinearly to ``size`` (R or (H, W)) and normalised with the
    ImageNet statistics."""
    height, width = input_hw(size)
    resized = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    array = (array - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """Undo :func:`image_to_tensor`'s normalisation: float (3, H, W) to a PIL RGB image."""
    array = tensor.detach().float().cpu().numpy().transpose(1, 2, 0)
    array = array * np.asarray(IMAGENET_STD, np.float32) + np.asarray(IMAGENET_MEAN, np.float32)
    return Image.fromarray(np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8))


class InspectionDataset(Dataset):
    """``dataset[i]`` → dict with ``image`` float32 (3, H, W), ``mask`` float32 (1, H, W) in {0, 1} (H, W from
    ``size``: R for a square or (H, W)),
    ``label`` int64 (index of the item's label in ``classes``, -1 when it is not one of them), ``defect``
    float32 (1.0 for a defect image, 0.0 for a defect-free one) and ``index``.

    With ``augment`` a random horizontal flip is applied to image and mask together. Decoded, resized
    images are kept in memory (``cache``), since the same small images are read every epoch.

    With ``pixel_classes`` (a multi-class segmenter's classes, background first) each item also gives
    ``labels`` int64 (H, W): its label image in those classes (:mod:`defect_inspect.data.pixel_labels`),
    flipped with the image.
    """

    def __init__(
        self,
        items: Sequence[InspectionItem],
        classes: Sequence[str],
        size: InputSize,
        *,
        augment: bool = False,
        cache: bool = True,
        pixel_classes: Sequence[str] | None = None,
    ) -> None:
        self.size = input_hw(size)
        self.pixel_classes = list(pixel_classes) if pixel_classes is not None else None
        self.items = list(items)
        self.classes = list(classes)
        self.augment = augment
        self.cache = cache
        self._index = {name: i for i, name in enumerate(self.classes)}
        self._cached: dict[int, tuple[torch.Tensor, ...]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, index: int) -> tuple[torch.Tensor, ...]:
        if index in self._cached:
            return self._cached[index]
        item = self.items[index]
        image = item.load_image()
        mask = item.load_mask(image.size)
        if mask.shape != (image.height, image.width):
            raise InputFileError(
                item.mask or item.image,
                f"mask is {mask.shape[1]}x{mask.shape[0]} but its "
                f"image {item.image.name} is {image.width}x{image.height}",
            )
        height, width = self.size
        loaded = (
            image_to_tensor(image, self.size),
            torch.from_numpy(resize_mask_covering(mask, (width, height)).astype(np.float32))[None],
        )
        if self.pixel_classes is not None:
            target = model_label_target(item, self.pixel_classes, image.size, self.size)
            loaded = (*loaded, torch.from_numpy(target))
        if self.cache:
            self._cached[index] = loaded
        return loaded

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        image, mask, *labels = self._load(index)
        # torch's generator, not numpy's: DataLoader seeds it per worker and from torch.manual_seed
        if self.augment and float(torch.rand(())) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
            labels = [t.flip(-1) for t in labels]
        item = self.items[index]
        sample = {
            "image": image,
            "mask": mask,
            "label": torch.tensor(self._index.get(item.label, -1), dtype=torch.int64),
            "defect": torch.tensor(float(item.is_defect), dtype=torch.float32),
            "index": index,
        }
        if labels:
            sample["labels"] = labels[0]
        return sample
