"""Where defect-metrics' pretrained weights live: :mod:`defect_core.weight_files`, the table that defect-sample
reads too, re-exported here as part of defect-metrics' public API. (Tests that redirect clean-fid's cache patch
``defect_core.weight_files.clean_fid_cache_dir``, the function the lookup calls.)

defect-metrics never downloads weights and never falls back to a random network: a missing file is a
:class:`~defect_core.errors.MissingWeightsError` that names the file, where it goes and where to get it.

- Inception-v3 (KID, FID): clean-fid's TorchScript file ``inception-2015-12-05.pt``, in clean-fid's own
  cache (``/tmp`` on Linux and macOS, the working directory on Windows) or in torch's hub checkpoint folder.
- LPIPS backbones (IC-LPIPS): torchvision's ImageNet checkpoints in torch's hub cache
  (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``). The small LPIPS linear
  layers ship inside the ``lpips`` package and need no download.
"""

from __future__ import annotations

from defect_core.errors import MissingWeightsError
from defect_core.weight_files import (
    INCEPTION,
    LPIPS_BACKBONES,
    inception_weights_path,
    lpips_backbone_path,
    torch_hub_checkpoints_dir,
)

__all__ = [
    "INCEPTION",
    "LPIPS_BACKBONES",
    "MissingWeightsError",
    "inception_weights_path",
    "lpips_backbone_path",
    "torch_hub_checkpoints_dir",
]
