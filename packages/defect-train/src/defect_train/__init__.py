"""defect_train: DefectFill fine-tuning of an inpainting diffusion model from a few defect pairs."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("defect-train")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from defect_train.config import TrainConfig  # noqa: E402


def train_concept(config: TrainConfig, *, on_step=None) -> Path:
    """Learn a defect concept; see :func:`defect_train.trainer.train_concept`."""
    from defect_train.trainer import train_concept as _train_concept

    return _train_concept(config, on_step=on_step)


__all__ = ["TrainConfig", "__version__", "train_concept"]
