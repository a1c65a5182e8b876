"""SDXL's micro-conditioning: the six numbers (``add_time_ids``) that tell the UNet the image's size and crop.

diffusers' ``StableDiffusionXLInpaintPipeline`` passes, per row, original size (H, W), crop top-left (0, 0)
and target size (H, W), all the generation size unless told otherwise (DIAG passes 1024² for all, which is
the same at its 1024² working size); a model trained with aesthetic scores (the refiner,
``requires_aesthetics_score``) gets original size, crop and the score instead (6.0, negative row 2.5).
"""

from __future__ import annotations

import torch

AESTHETIC_SCORE = 6.0
NEGATIVE_AESTHETIC_SCORE = 2.5


def sdxl_time_ids(
    size_hw: tuple[int, int], *, requires_aesthetics_score: bool, guided: bool, dtype: torch.dtype
) -> torch.Tensor:
    """The ``time_ids`` rows of one generation size: (1, K), or (2, K) = [negative, prompt] when guided."""
    height, width = (int(v) for v in size_hw)
    if requires_aesthetics_score:
        ids = [height, width, 0, 0, AESTHETIC_SCORE]
        negative = [height, width, 0, 0, NEGATIVE_AESTHETIC_SCORE]
    else:
        ids = negative = [height, width, 0, 0, height, width]
    rows = [negative, ids] if guided else [ids]
    return torch.tensor(rows, dtype=dtype)


def check_time_embedding(unet, text_encoder_2, requires_aesthetics_score: bool) -> None:
    """Raise ``ValueError`` unless the UNet's added embedding takes this many time ids plus the pooled
    embedding (a refiner-style model loaded without ``requires_aesthetics_score``, or the reverse)."""
    count = 5 if requires_aesthetics_score else 6
    passed = unet.config.addition_time_embed_dim * count + text_encoder_2.config.projection_dim
    expected = unet.add_embedding.linear_1.in_features
    if passed != expected:
        raise ValueError(
            f"the SDXL UNet's added embedding takes {expected} values, but {count} time ids and a pooled "
            f"embedding of {text_encoder_2.config.projection_dim} give {passed} "
            f"(requires_aesthetics_score={requires_aesthetics_score} in model_index.json)"
        )
