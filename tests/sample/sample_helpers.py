"""Helpers of the defect-sample tests: images, masks, random LoRA concept files on builtin:tiny.

(Not in conftest.py: test modules import these by name, and every test folder has a conftest.)
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from defect_core.concept_card import BaseModelRef, ConceptCard
from defect_core.concept_file import save_concept

SIZE = 64  # builtin:tiny's native size: 8 x 8 latents
LORA_RANK, LORA_ALPHA = 4, 8.0


def random_image(seed: int, size: int = SIZE) -> Image.Image:
    """A smooth random RGB image (so that the VAE and SSIM see structure, not white noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


def box_mask(y0: int, x0: int, y1: int, x1: int, size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def lora_copies(base_pipe, seed: int, text_encoder: bool = True):
    """Deep copies of the UNet and text encoder with a random peft LoRA (rank 4, alpha 8: scale 2) whose
    up matrices are non-zero, as after training."""
    from peft import LoraConfig

    torch.manual_seed(seed)
    unet = copy.deepcopy(base_pipe.unet)
    unet.add_adapter(
        LoraConfig(
            r=LORA_RANK,
            lora_alpha=LORA_ALPHA,
            init_lora_weights=False,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    te = copy.deepcopy(base_pipe.text_encoder)
    if text_encoder:
        te.add_adapter(
            LoraConfig(
                r=LORA_RANK,
                lora_alpha=LORA_ALPHA,
                init_lora_weights=False,
                target_modules=["q_proj", "k_proj", "v_proj", "out_proj"],
            )
        )
    return unet, te


def export_lora(unet, te, with_text_encoder: bool, layout: str) -> dict[str, np.ndarray]:
    """The trainer's export: peft state dicts (``layout="peft"``: ``…lora_A.weight``, as defect-train
    writes) or diffusers-converted (``layout="diffusers"``: ``…lora.down.weight``, as diffusers' training
    scripts write), prefixed ``unet.`` / ``text_encoder.``, alpha / r folded into the up matrices."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import get_peft_model_state_dict

    scale = LORA_ALPHA / LORA_RANK
    out = {}
    parts = [("unet", unet)] + ([("text_encoder", te)] if with_text_encoder else [])
    for prefix, model in parts:
        state = get_peft_model_state_dict(model)
        if layout == "diffusers":
            state = convert_state_dict_to_diffusers(state)
        for key, value in state.items():
            value = value.detach().float()
            if any(up in key for up in (".lora_B.", ".lora.up.", ".lora_linear_layer.up.")):
                value = value * scale
            out[f"{prefix}.{key}"] = value.numpy()
    return out


def write_concept(
    path: Path,
    base_pipe,
    fingerprint: str,
    *,
    seed: int,
    defect: str,
    obj: str = "tile",
    layout: str = "peft",
    text_encoder: bool = True,
    base_id: str = "builtin:tiny",
):
    """Write a concept file with a random LoRA; return (path, the peft-wrapped unet, text encoder)."""
    unet, te = lora_copies(base_pipe, seed, text_encoder)
    card = ConceptCard(
        object_name=obj,
        defect_name=defect,
        base_model=BaseModelRef(base_id, fingerprint),
        lora_rank=LORA_RANK,
        lora_alpha=LORA_ALPHA,
        resolution=SIZE,
    )
    save_concept(path, export_lora(unet, te, text_encoder, layout), card)
    return path, unet, te
