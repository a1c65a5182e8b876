"""defect_inspect: inspection models trained on synthetic defects and tested on real ones.

The public API, imported on first use (PEP 562), so that ``defect-inspect --version`` does not load torch:

- training: :class:`InspectConfig`, :func:`train_inspection_model`, :class:`TrainResult`;
- evaluation: :class:`EvaluateConfig`, :func:`evaluate`, :class:`PredictConfig`, :func:`predict`,
  :func:`score_items`, :func:`run_inference`;
- models: :func:`create_model`, :func:`register_model`, :func:`available_models`,
  :class:`MissingWeightsError`, :func:`load_checkpoint`, :func:`save_checkpoint`, :class:`CheckpointInfo`;
- data: :class:`InspectionItem`, :func:`read_generation_output`, :func:`training_items`, :func:`evaluation_items`,
  :func:`cut_paste`, :func:`write_cut_paste_set`, :func:`balance_classes`, :func:`stratified_split`;
- the whole protocol (``defect-inspect[experiment]``): :class:`ExperimentConfig`, :func:`run_experiment`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from defect_core.lazy_exports import lazy_exports

try:
    __version__ = version("defect-inspect")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "InspectConfig": "training.config",
    "train_inspection_model": "run_training",
    "TrainResult": "run_training",
    "EvaluateConfig": "evaluation.evaluate",
    "evaluate": "evaluation.evaluate",
    "PredictConfig": "evaluation.predict",
    "predict": "evaluation.predict",
    "score_items": "evaluation.scoring",
    "run_inference": "evaluation.inference",
    "create_model": "models.registry",
    "register_model": "models.registry",
    "available_models": "models.registry",
    "MissingWeightsError": "models.pretrained",
    "load_checkpoint": "training.checkpoint",
    "save_checkpoint": "training.checkpoint",
    "CheckpointInfo": "training.checkpoint",
    "InspectionItem": "data.items",
    "read_generation_output": "data.generated",
    "training_items": "data.assemble",
    "evaluation_items": "data.assemble",
    "cut_paste": "data.cut_paste",
    "write_cut_paste_set": "data.cut_paste",
    "balance_classes": "data.balance",
    "stratified_split": "data.validation_split",
    "ExperimentConfig": "experiment",
    "run_experiment": "experiment",
}

__all__ = [
    "__version__",
    "InspectConfig",
    "train_inspection_model",
    "TrainResult",
    "EvaluateConfig",
    "evaluate",
    "PredictConfig",
    "predict",
    "score_items",
    "run_inference",
    "create_model",
    "register_model",
    "available_models",
    "MissingWeightsError",
    "load_checkpoint",
    "save_checkpoint",
    "CheckpointInfo",
    "InspectionItem",
    "read_generation_output",
    "training_items",
    "evaluation_items",
    "cut_paste",
    "write_cut_paste_set",
    "balance_classes",
    "stratified_split",
    "ExperimentConfig",
    "run_experiment",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from defect_inspect.data.assemble import evaluation_items, training_items
    from defect_inspect.data.balance import balance_classes
    from defect_inspect.data.cut_paste import cut_paste, write_cut_paste_set
    from defect_inspect.data.generated import read_generation_output
    from defect_inspect.data.items import InspectionItem
    from defect_inspect.data.validation_split import stratified_split
    from defect_inspect.evaluation.evaluate import EvaluateConfig, evaluate
    from defect_inspect.evaluation.inference import run_inference
    from defect_inspect.evaluation.predict import PredictConfig, predict
    from defect_inspect.evaluation.scoring import score_items
    from defect_inspect.experiment import ExperimentConfig, run_experiment
    from defect_inspect.models.pretrained import MissingWeightsError
    from defect_inspect.models.registry import available_models, create_model, register_model
    from defect_inspect.run_training import TrainResult, train_inspection_model
    from defect_inspect.training.checkpoint import CheckpointInfo, load_checkpoint, save_checkpoint
    from defect_inspect.training.config import InspectConfig
