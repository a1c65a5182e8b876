"""Named presets of ``InspectConfig`` (``--preset NAME``): defaults < preset < config file < flags.

``diag``: the binary detector of DIAG (Girella et al., CBMI 2024), as its published code trains it on KSDD2:
torchvision's ResNet-50 with its ``IMAGENET1K_V1`` weights (not the newer V2 that torchvision's ``DEFAULT``
means today) and one logit, ``BCEWithLogitsLoss``, Adam at a constant 1e-4 without weight decay, batch 32,
30 epochs, no augmentation and no validation split (the last epoch's weights are kept), inputs resized to
704 × 256 (H × W) with the ImageNet normalisation, tested on the official test split after every epoch
(average precision on the logits, ROC-AUC, precision / recall at the best-F1 threshold: ``metrics.csv``).
Which real images train (``--real-train all`` for its full-shot row, none for zero-shot) is the run's choice.

Kept free of torch: the config module imports it to validate ``preset``.
"""

from __future__ import annotations

from typing import Any

DIAG_PRESET: dict[str, Any] = {
    "task": "detector",
    "model": "torchvision/resnet50.IMAGENET1K_V1",
    "pretrained": True,
    "optimizer": "adam",
    "learning_rate": 1e-4,
    "weight_decay": 0.0,
    "lr_schedule": "constant",
    "batch_size": 32,
    "epochs": 30,
    "augment": False,
    "val_fraction": 0.0,
    "balance": "none",
    "input_size": (704, 256),
    "test_split": "test",
    "epoch_metrics": True,
}

INSPECT_PRESETS: dict[str, dict[str, Any]] = {"diag": DIAG_PRESET}
"""preset name -> the InspectConfig values it sets (each a field name)."""
