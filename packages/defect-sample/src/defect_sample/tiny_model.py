"""``builtin:tiny``: a tiny random Stable-Diffusion-style inpainting pipeline, built here, never downloaded.

It has the architecture of the real thing at toy size (9-channel UNet with cross-attention, a VAE with the
SD latent factor of 8, a CLIP text encoder, a CLIP BPE tokenizer whose vocabulary files this module writes),
so every code path that a real model takes runs in tests and on a fresh machine without network. Its weights
are random (fixed seeds): it fills noise, it does not know defects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from diffusers import StableDiffusionInpaintPipeline


TINY_MODEL_VERSION = 1
"""Bumped whenever the architecture or seeds change, so that an old cached copy is rebuilt."""

# Words that the tiny tokenizer keeps as single tokens; anything else splits into byte-level pieces,
# exactly as CLIP's BPE does with a word it has no merges for.
_WORDS = (
    "a",
    "an",
    "the",
    "of",
    "with",
    "on",
    "in",
    "and",
    "photo",
    "sks",
    "defect",
    "scratch",
    "hole",
    "stain",
    "crack",
    "brick",
    "gravel",
    "grass",
    "wall",
    "surface",
    "white",
    "marks",
    "object",
    "texture",
    "dent",
)
_SPECIALS = ("<|startoftext|>", "<|endoftext|>")


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP / GPT-2's reversible byte → printable-character table."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def write_tiny_tokenizer_files(folder: Path) -> int:
    """Write ``vocab.json``, ``merges.txt`` and the tokenizer configs of a tiny CLIP BPE tokenizer.

    Returns the vocabulary size.
    """
    base = list(_bytes_to_unicode().values())
    vocab: list[str] = base + [c + "</w>" for c in base]
    merges: list[str] = []
    for word in _WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            pair = f"{pieces[0]} {pieces[1]}"
            merged = pieces[0] + pieces[1]
            if pair not in merges:
                merges.append(pair)
            if merged not in vocab:
                vocab.append(merged)
            pieces = [merged] + pieces[2:]
    vocab.extend(_SPECIALS)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(
        json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False)
    )
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "bos_token": _SPECIALS[0],
                "eos_token": _SPECIALS[1],
                "unk_token": _SPECIALS[1],
                "pad_token": _SPECIALS[1],
            }
        )
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": 77,
                "do_lower_case": True,
                "bos_token": _SPECIALS[0],
                "eos_token": _SPECIALS[1],
                "unk_token": _SPECIALS[1],
                "pad_token": _SPECIALS[1],
            }
        )
    )
    return len(vocab)


def build_tiny_vae(**overrides: object):
    """The tiny models' VAE (random weights from the current torch seed): 64 px → 8 × 8 × 4 latents;
    ``overrides`` set the family's own keys (``scaling_factor``, ``force_upcast``)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(16, 16, 32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
        **overrides,
    )


def build_tiny_pipeline(folder: Path) -> StableDiffusionInpaintPipeline:
    """Build the tiny inpainting pipeline with fixed seeds and save it (diffusers layout) into ``folder``."""
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab_size = write_tiny_tokenizer_files(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    ids = tokenizer.convert_tokens_to_ids(list(_SPECIALS))

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=9,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=16,
    )
    torch.manual_seed(1)
    vae = build_tiny_vae(scaling_factor=0.18215)
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            projection_dim=32,
            bos_token_id=ids[0],
            eos_token_id=ids[1],
            pad_token_id=ids[1],
        )
    )
    # Stable Diffusion 2's scheduler settings: scaled-linear betas, epsilon prediction, offset 1.
    scheduler = DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    weights = folder / "text_encoder" / "model.safetensors"
    if not weights.is_file():
        # transformers writes a model's weights only in process 0 of an initialised torch.distributed group:
        # a build in another process of a multi-process training run must be complete all the same
        from safetensors.torch import save_file

        save_file(
            {k: v.contiguous() for k, v in text_encoder.state_dict().items()},
            str(weights),
            metadata={"format": "pt"},
        )
    return pipe
