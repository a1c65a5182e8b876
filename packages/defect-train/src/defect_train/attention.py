"""Capturing the cross-attention of the defect token in the UNet's decoder, without giving up SDPA.

The attention loss needs softmax(QKᵀ/√d) for the token's columns only. :class:`TokenAttentionProcessor`
computes the layer's output with ``scaled_dot_product_attention`` as usual (nothing changes in the forward
pass), and in addition the probabilities of the selected key columns: the softmax denominator comes from a
logsumexp over all keys, so no full probability matrix is kept and other layers keep their processors.
The pattern follows diffusers' Attend-and-Excite pipeline, which stores maps from a custom processor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class AttentionStore:
    """Where the processors put their maps during one forward pass.

    ``token_columns``: key positions of the token (its pieces). ``rows``: which batch rows to capture
    (the object branch). ``latent_hw``: the latent size, to recover each layer's spatial shape.
    ``maps``: per layer, float (b, h_l, w_l), mean over heads and over the token's pieces.

    ``enabled`` decides whether the probabilities are computed, ``recording`` whether they are kept. With
    gradient checkpointing the backward pass re-runs the forward of each block and must run the very same
    operations, so ``enabled`` stays on until the backward is done while ``recording`` is off.
    """

    token_columns: list[int] = field(default_factory=list)
    rows: slice = field(default_factory=lambda: slice(None))
    latent_hw: tuple[int, int] = (0, 0)
    enabled: bool = False
    recording: bool = True
    maps: list[torch.Tensor] = field(default_factory=list)

    def reset(self) -> None:
        self.maps = []

    def spatial_shape(self, tokens: int) -> tuple[int, int]:
        """The (h_l, w_l) grid of a layer with ``tokens`` query positions.

        Each UNet level halves the previous one rounding up (a stride-2 convolution with padding 1), so a
        non-square latent such as 64 × 23 (a 512 × 184 KSDD2 image) has levels 32 × 12 and 16 × 6, which a
        uniform scale of the latent grid cannot recover; that rule is tried first.
        """
        h, w = self.latent_hw
        hh, ww = h, w
        while hh * ww > tokens and (hh > 1 or ww > 1):
            hh, ww = -(-hh // 2), -(-ww // 2)
        if hh * ww == tokens:
            return hh, ww
        scale = math.sqrt(h * w / tokens)
        hh, ww = round(h / scale), round(w / scale)
        if hh * ww != tokens:
            raise ValueError(f"cannot map {tokens} query tokens onto the latent grid {self.latent_hw}")
        return hh, ww

    def mean_map(self) -> torch.Tensor:
        """A: the captured maps resized to latent size (bilinear) and averaged over layers, (b, 1, h, w)."""
        if not self.maps:
            raise RuntimeError("no attention maps were captured: is the store enabled and installed?")
        resized = [
            F.interpolate(m[:, None].float(), size=self.latent_hw, mode="bilinear", align_corners=False)
            for m in self.maps
        ]
        return torch.stack(resized).mean(0)


def token_attention_probs(
    query: torch.Tensor, key: torch.Tensor, columns: list[int], scale: float | None = None
) -> torch.Tensor:
    """softmax(Q Kᵀ · scale) restricted to ``columns``: (B, heads, N, len(columns)), in float32.

    query: (B, heads, N, d), key: (B, heads, L, d); scale defaults to 1/√d as in SDPA.
    """
    scale = scale if scale is not None else query.shape[-1] ** -0.5
    scores = torch.matmul(query.float(), key.float().transpose(-1, -2)) * scale  # (B, heads, N, L): L is ~77
    return torch.exp(scores[..., columns] - torch.logsumexp(scores, dim=-1, keepdim=True))


class TokenAttentionProcessor:
    """An SDPA attention processor that also stores the token's attention probabilities in a store."""

    def __init__(self, store: AttentionStore) -> None:
        self.store = store

    def __call__(
        self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs
    ):
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        batch = hidden_states.shape[0]
        context_len = (hidden_states if encoder_hidden_states is None else encoder_hidden_states).shape[1]
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, context_len, batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        if self.store.enabled:
            probs = token_attention_probs(
                query[self.store.rows], key[self.store.rows], self.store.token_columns
            )
            maps = probs.mean(dim=(1, 3))  # over heads and over the token's pieces: (b, N)
            if self.store.recording:
                hh, ww = self.store.spatial_shape(maps.shape[-1])
                self.store.maps.append(maps.view(maps.shape[0], hh, ww))

        hidden_states = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
        hidden_states = (
            hidden_states.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        )
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def decoder_cross_attention_names(unet) -> list[str]:
    """Names (as in ``unet.attn_processors``) of the cross-attention layers of the up blocks."""
    return [name for name in unet.attn_processors if name.startswith("up_blocks.") and ".attn2." in name]


def install_attention_capture(unet, store: AttentionStore) -> list[str]:
    """Put :class:`TokenAttentionProcessor` on the decoder cross-attention layers; others keep theirs.

    Returns the names of the capturing layers. Raises ``ValueError`` if the UNet has none.
    """
    names = decoder_cross_attention_names(unet)
    if not names:
        raise ValueError("the UNet has no cross-attention layers in its up blocks: nothing to capture")
    processors = dict(unet.attn_processors)
    capture = TokenAttentionProcessor(store)
    for name in names:
        processors[name] = capture
    unet.set_attn_processor(processors)
    return names
