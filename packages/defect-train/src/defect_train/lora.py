"""LoRA on exactly the modules of DESIGN.md §4, through peft, and its export to a concept file.

UNet: ``to_q, to_k, to_v, to_out.0`` of every attention layer; text encoder: ``q_proj, k_proj, v_proj,
out_proj``. Everything else stays frozen.
"""

from __future__ import annotations

import numpy as np
import torch
from peft import LoraConfig, get_peft_model_state_dict

from defect_core.concept_card import PAPER_TEXT_ENCODER_TARGETS, PAPER_UNET_TARGETS


def add_lora(
    module: torch.nn.Module, targets: tuple[str, ...], rank: int, alpha: float, dropout: float
) -> None:
    """Freeze ``module`` and add a LoRA adapter (named "default") on the ``targets`` projections."""
    module.requires_grad_(False)
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        init_lora_weights="gaussian",
        target_modules=list(targets),
    )
    module.add_adapter(config)


def add_paper_lora(
    unet, text_encoder, rank: int, alpha: float, dropout: float, train_text_encoder: bool
) -> None:
    """LoRA on the UNet's attention projections and (optionally) the text encoder's."""
    add_lora(unet, PAPER_UNET_TARGETS, rank, alpha, dropout)
    text_encoder.requires_grad_(False)
    if train_text_encoder:
        add_lora(text_encoder, PAPER_TEXT_ENCODER_TARGETS, rank, alpha, dropout)


def lora_parameters(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The trainable LoRA parameters of a module (in a stable order)."""
    return [p for n, p in module.named_parameters() if "lora_" in n and p.requires_grad]


def cast_lora_to_fp32(*modules: torch.nn.Module) -> None:
    """Keep LoRA weights in fp32 when the base weights are fp16 / bf16.

    fp16 trainable weights make ``GradScaler.unscale_`` fail with "Attempting to unscale FP16 gradients"
    (diffusers#6755), and fp16 Adam updates underflow: the master copy of what is trained stays fp32.
    """
    for module in modules:
        for p in module.parameters():
            if p.requires_grad:
                p.data = p.data.float()


def _diffusers_layout(state: dict[str, torch.Tensor], prefix: str, scale: float) -> dict[str, np.ndarray]:
    out = {}
    for key, value in state.items():
        value = value.detach().float().cpu()
        if ".lora_B." in key:
            value = value * scale  # fold alpha / r in: the file loads with diffusers' default alpha = r
        out[f"{prefix}.{key}"] = value.numpy()
    return out


def export_lora_tensors(
    unet, text_encoder, rank: int, alpha: float, with_text_encoder: bool
) -> dict[str, np.ndarray]:
    """LoRA tensors in diffusers' layout (``unet.…lora_A.weight``, ``text_encoder.…``), fp32 numpy.

    The LoRA scale alpha / r is folded into ``lora_B``: a stock ``load_lora_weights`` that assumes
    alpha = r (no alpha metadata) then applies exactly the trained update, and so does defect-sample.
    """
    scale = alpha / rank
    tensors = _diffusers_layout(get_peft_model_state_dict(unet), "unet", scale)
    if with_text_encoder:
        tensors.update(_diffusers_layout(get_peft_model_state_dict(text_encoder), "text_encoder", scale))
    return tensors
