"""The captured attention equals softmax(QKᵀ/√d) by hand, and capturing changes no output."""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from defect_train.attention import (
    AttentionStore,
    TokenAttentionProcessor,
    decoder_cross_attention_names,
    install_attention_capture,
)


def test_captured_probabilities_match_hand_softmax() -> None:
    torch.manual_seed(0)
    attn = Attention(query_dim=32, cross_attention_dim=24, heads=4, dim_head=8)
    hidden = torch.randn(3, 16, 32)  # 3 samples, a 4×4 grid
    context = torch.randn(3, 7, 24)  # 7 text tokens
    store = AttentionStore(token_columns=[2, 3], rows=slice(1, 3), latent_hw=(4, 4), enabled=True)

    attn.set_processor(TokenAttentionProcessor(store))
    out = attn(hidden, encoder_hidden_states=context)
    attn.set_processor(AttnProcessor2_0())
    reference_out = attn(hidden, encoder_hidden_states=context)
    torch.testing.assert_close(out, reference_out)

    q = attn.to_q(hidden).view(3, 16, 4, 8).transpose(1, 2)
    k = attn.to_k(context).view(3, 7, 4, 8).transpose(1, 2)
    probs = torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, dim=-1)  # (3, heads, 16, 7)
    expected = probs[1:3, :, :, [2, 3]].mean(dim=(1, 3)).view(2, 4, 4)
    assert len(store.maps) == 1
    torch.testing.assert_close(store.maps[0], expected, rtol=1e-5, atol=1e-6)


def test_capture_only_on_decoder_cross_attention_and_output_unchanged(tiny_pipe) -> None:
    unet = tiny_pipe.unet
    before = dict(unet.attn_processors)
    torch.manual_seed(1)
    sample = torch.randn(2, 9, 8, 8)
    context = torch.randn(2, 77, unet.config.cross_attention_dim)
    t = torch.tensor([10, 500])
    with torch.no_grad():
        reference = unet(sample, t, encoder_hidden_states=context).sample
    store = AttentionStore(token_columns=[4], rows=slice(0, 2), latent_hw=(8, 8))
    try:
        names = install_attention_capture(unet, store)
        assert names == decoder_cross_attention_names(unet)
        assert names and all(n.startswith("up_blocks.") and ".attn2." in n for n in names)
        for name, processor in unet.attn_processors.items():
            assert isinstance(processor, TokenAttentionProcessor) == (name in names)
        store.enabled = True
        with torch.no_grad():
            captured = unet(sample, t, encoder_hidden_states=context).sample
        torch.testing.assert_close(captured, reference)
        assert len(store.maps) == len(names)
        mean_map = store.mean_map()
        assert mean_map.shape == (2, 1, 8, 8)
        assert bool(((mean_map >= 0) & (mean_map <= 1)).all())
    finally:
        unet.set_attn_processor(before)
