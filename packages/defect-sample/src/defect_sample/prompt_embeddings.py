"""A prompt (and its negative) as the UNet's text conditioning, for Stable Diffusion 1 / 2 and for SDXL.

- Stable Diffusion: the text encoder's last hidden state (:func:`defect_sample.conditioning.encode_prompt_ids`).
- SDXL: the penultimate hidden states of both text encoders, concatenated (B, 77, D1 + D2), and the pooled,
  projected embedding of the second (B, P); built exactly as diffusers' ``StableDiffusionXLInpaintPipeline
  .encode_prompt`` builds them (each encoder with its own tokenizer, no attention mask, a missing negative
  prompt as zeros when the model's ``force_zeros_for_empty_prompt`` says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from defect_sample.conditioning import encode_prompt_ids, tokenize


@dataclass(frozen=True)
class PromptEmbeddings:
    """Text conditioning of one prompt: ``hidden`` (N, L, D) and, for SDXL, ``pooled`` (N, P).

    N = 1 (the prompt), or 2 = [negative, prompt] with classifier-free guidance (diffusers' order).
    """

    hidden: torch.Tensor
    pooled: torch.Tensor | None = None

    @property
    def guided(self) -> bool:
        return self.hidden.shape[0] == 2

    def to(self, device: torch.device, dtype: torch.dtype) -> PromptEmbeddings:
        pooled = None if self.pooled is None else self.pooled.to(device=device, dtype=dtype)
        return PromptEmbeddings(self.hidden.to(device=device, dtype=dtype), pooled)


def encode_sd_prompt(
    tokenizer, text_encoder, prompt: str, negative_prompt: str | None, guidance: bool
) -> PromptEmbeddings:
    """Stable Diffusion's conditioning; a missing negative prompt is the empty string, as in diffusers."""
    ids = tokenize(tokenizer, [prompt])
    if guidance:
        ids = torch.cat([tokenize(tokenizer, [negative_prompt or ""]), ids])
    return PromptEmbeddings(encode_prompt_ids(text_encoder, ids))


def _encode_sdxl_text(
    tokenizers: Sequence, text_encoders: Sequence, text: str
) -> tuple[torch.Tensor, torch.Tensor]:
    hidden, pooled = [], None
    for tokenizer, encoder in zip(tokenizers, text_encoders, strict=True):
        ids = tokenize(tokenizer, [text]).to(encoder.device)
        out = encoder(ids, output_hidden_states=True)
        # the first 2-D output is the projected pooled embedding: only the second encoder has one
        if pooled is None and out[0].ndim == 2:
            pooled = out[0]
        hidden.append(out.hidden_states[-2])  # SDXL conditions on the penultimate layer
    if pooled is None:
        raise ValueError("SDXL's second text encoder must return a projected pooled embedding")
    return torch.cat(hidden, dim=-1), pooled


def encode_sdxl_prompt(
    tokenizers: Sequence,
    text_encoders: Sequence,
    prompt: str,
    negative_prompt: str | None,
    guidance: bool,
    zeros_for_missing_negative: bool = True,
) -> PromptEmbeddings:
    """SDXL's conditioning from its two tokenizers and text encoders (in the pipeline's order).

    With ``guidance``, a ``negative_prompt`` of ``None`` gives zero embeddings when
    ``zeros_for_missing_negative`` (the pipeline's ``force_zeros_for_empty_prompt``), else the empty string's;
    an explicit ``""`` is always encoded.
    """
    hidden, pooled = _encode_sdxl_text(tokenizers, text_encoders, prompt)
    if not guidance:
        return PromptEmbeddings(hidden, pooled)
    if negative_prompt is None and zeros_for_missing_negative:
        negative_hidden, negative_pooled = torch.zeros_like(hidden), torch.zeros_like(pooled)
    else:
        negative_hidden, negative_pooled = _encode_sdxl_text(tokenizers, text_encoders, negative_prompt or "")
    return PromptEmbeddings(torch.cat([negative_hidden, hidden]), torch.cat([negative_pooled, pooled]))
