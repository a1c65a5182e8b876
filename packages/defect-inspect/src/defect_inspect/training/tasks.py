"""The three inspection tasks: what each trains on, its classes, its loss and its outputs.

- ``classifier`` (DefectFill / AnomalyDiffusion): the defect type of a defect image; cross-entropy;
  outputs class probabilities (N, C). Defect-free images only with ``include_good`` (a "good" class).
- ``detector`` (DIAG): good vs. defect; one logit, binary cross-entropy; outputs P(defect) (N,).
- ``segmenter`` (DefectFill's UNet, Defect Spectrum): a defect mask per pixel; focal loss; outputs
  P(defect) per pixel, and with ``multiclass`` one class per defect type (background is class 0). With
  ``pixel_labels`` (``--classes multi``, Defect Spectrum) the classes come per pixel from the items' label
  images, merged by class name (:mod:`defect_inspect.data.class_tables`): several classes in one image,
  softmax over background + the classes, cross-entropy by default (the focal loss if asked).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from defect_inspect.data.class_tables import BACKGROUND, model_classes
from defect_inspect.data.items import GOOD, InspectionItem, label_counts
from defect_inspect.models.losses import segmentation_loss

logger = logging.getLogger(__name__)

DEFECT = "defect"


class Task(ABC):
    """One task's rules. ``classes`` are the model's output classes, in output order."""

    kind: str = ""
    model_kind: str = ""

    def select_train_items(self, items: Sequence[InspectionItem]) -> list[InspectionItem]:
        """The training items this task uses (all by default)."""
        return list(items)

    def select_test_items(self, items: Sequence[InspectionItem]) -> list[InspectionItem]:
        """The test items this task is scored on (all by default)."""
        return list(items)

    @abstractmethod
    def classes(self, items: Sequence[InspectionItem]) -> list[str]:
        """Output classes for a training set."""

    def num_outputs(self, classes: Sequence[str]) -> int:
        """Channels of the model's output."""
        return len(classes)

    @abstractmethod
    def loss(self, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scalar loss of a batch's model outputs."""

    @abstractmethod
    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """Model outputs as probabilities (see the module docstring for the shapes)."""


_TASKS: dict[str, Callable[..., Task]] = {}


def register_task(kind: str):
    """Class decorator: make a :class:`Task` creatable by :func:`create_task`."""

    def decorate(cls):
        cls.kind = kind
        _TASKS[kind] = cls
        return cls

    return decorate


def create_task(
    kind: str,
    *,
    include_good: bool = False,
    multiclass: bool = False,
    loss: str = "focal",
    pixel_labels: bool = False,
    class_names: Sequence[str] = (),
) -> Task:
    """The task ``kind`` ("classifier", "segmenter" or "detector") with its options."""
    if kind not in _TASKS:
        raise ValueError(f"unknown task {kind!r}; available: {', '.join(sorted(_TASKS))}")
    if kind == "classifier":
        return _TASKS[kind](include_good=include_good)
    if kind == "segmenter":
        return _TASKS[kind](
            multiclass=multiclass, loss=loss, pixel_labels=pixel_labels, class_names=class_names
        )
    return _TASKS[kind]()


@register_task("classifier")
class ClassifierTask(Task):
    """Defect type: one class per defect type of the training set (and "good" with ``include_good``);
    probabilities float (B, C)."""

    model_kind = "classifier"

    def __init__(self, include_good: bool = False) -> None:
        self.include_good = include_good

    def _keep(self, items: Sequence[InspectionItem]) -> list[InspectionItem]:
        return [i for i in items if self.include_good or i.is_defect]

    def select_train_items(self, items: Sequence[InspectionItem]) -> list[InspectionItem]:
        kept = self._keep(items)
        defect_types = {i.label for i in kept if i.is_defect}
        if len(defect_types) + (GOOD in {i.label for i in kept}) < 2:
            raise ValueError(
                f"a classifier needs at least two classes to tell apart; the training set has {label_counts(kept)} "
                "(give one generation output per defect type, or --include-good)"
            )
        return kept

    def select_test_items(self, items: Sequence[InspectionItem]) -> list[InspectionItem]:
        return self._keep(items)

    def classes(self, items: Sequence[InspectionItem]) -> list[str]:
        return sorted({i.label for i in items})

    def loss(self, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(outputs.float(), batch["label"])

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().softmax(dim=1)


@register_task("detector")
class DetectorTask(Task):
    """Good vs. defect from one logit; probabilities float (B,) = P(defect)."""

    model_kind = "detector"

    def select_train_items(self, items: Sequence[InspectionItem]) -> list[InspectionItem]:
        kinds = {i.is_defect for i in items}
        if kinds != {True, False}:
            raise ValueError(
                f"a detector needs defect and defect-free training images; the training set has {label_counts(list(items))} "
                "(give --normals DIR, or a --dataset whose train/good images are used)"
            )
        return list(items)

    def classes(self, items: Sequence[InspectionItem]) -> list[str]:
        return [GOOD, DEFECT]

    def num_outputs(self, classes: Sequence[str]) -> int:
        return 1

    def loss(self, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(outputs.float().reshape(-1), batch["defect"])

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().reshape(-1).sigmoid()


@register_task("segmenter")
class SegmenterTask(Task):
    """A defect mask per pixel: one logit (binary), background + one class per defect type (multi-class), or
    background + the classes of the label images (pixel labels)."""

    model_kind = "segmenter"

    def __init__(
        self,
        multiclass: bool = False,
        loss: str = "focal",
        pixel_labels: bool = False,
        class_names: Sequence[str] = (),
    ) -> None:
        self.multiclass = multiclass or pixel_labels
        self.pixel_labels = pixel_labels
        self.class_names = tuple(class_names)
        self.loss_name = loss
        self._loss = segmentation_loss(loss, self.multiclass)

    def classes(self, items: Sequence[InspectionItem]) -> list[str]:
        if self.pixel_labels:
            return model_classes(items, self.class_names)
        if not self.multiclass:
            return [BACKGROUND, DEFECT]
        return [BACKGROUND, *sorted({i.label for i in items if i.is_defect})]

    def num_outputs(self, classes: Sequence[str]) -> int:
        return len(classes) if self.multiclass else 1

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Binary: the mask float (B, 1, H, W); multi-class: class indices int64 (B, H, W), 0 = background.

        The dataset's ``label`` indexes ``classes`` (background is 0, so a defect's index is its class);
        defect-free images have label -1 and an empty mask, hence all background. With pixel labels the
        dataset's ``labels`` are the target as they are.
        """
        if self.pixel_labels:
            return batch["labels"]
        if not self.multiclass:
            return batch["mask"]
        return batch["mask"][:, 0].long() * batch["label"].clamp(min=0)[:, None, None]

    def loss(self, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._loss(outputs, self.target(batch))

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """Binary: P(defect) float (B, 1, H, W); multi-class: class probabilities float (B, C, H, W)."""
        return outputs.float().softmax(dim=1) if self.multiclass else outputs.float().sigmoid()
