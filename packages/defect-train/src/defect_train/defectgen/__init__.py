"""Defect-Gen training (Defect Spectrum, Yang et al. ECCV 2024; DESIGN.md §4b): two ``UNet2DModel`` denoisers,
one with a large receptive field and one with a small one, trained separately on one object's defect images
and their class labels, saved as one generator folder that ``defect-sample defectgen`` samples from.

Public API (imported on first use, so that ``defect-train defectgen --help`` does not load torch):

- :class:`DefectGenTrainConfig`, :func:`train_defectgen`: a whole training run (``defect-train defectgen``);
- :func:`build_large_unet`, :func:`build_small_unet`, :data:`UNET_SPECS`: the networks;
- :func:`measure_receptive_field`, :class:`ReceptiveField`: what each network's output pixel sees;
- :func:`resolve_defectgen_data`, :func:`encode_example`: the training samples;
- :func:`x0_loss`: the objective.
"""

# ruff: noqa: F401 - see the TYPE_CHECKING block
from typing import TYPE_CHECKING

from defect_core.lazy_exports import lazy_exports

_EXPORTS = {
    "DefectGenTrainConfig": "config",
    "train_defectgen": "trainer",
    "build_large_unet": "networks",
    "build_small_unet": "networks",
    "UNET_SPECS": "networks",
    "UnetSpec": "networks",
    "measure_receptive_field": "receptive_field",
    "ReceptiveField": "receptive_field",
    "DefectGenData": "data",
    "resolve_defectgen_data": "data",
    "encode_example": "data",
    "x0_loss": "loss",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _EXPORTS)

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from defect_train.defectgen.config import DefectGenTrainConfig
    from defect_train.defectgen.data import DefectGenData, encode_example, resolve_defectgen_data
    from defect_train.defectgen.loss import x0_loss
    from defect_train.defectgen.networks import UNET_SPECS, UnetSpec, build_large_unet, build_small_unet
    from defect_train.defectgen.receptive_field import ReceptiveField, measure_receptive_field
    from defect_train.defectgen.trainer import train_defectgen
