"""A fingerprint of a base model's UNet and text-encoder weights, read from its safetensors files.

Part of a base model's identity for the concept check (with the architecture hash of
:func:`defect_sample.model_loading.model_fingerprint`): the same weights under another name (a hub mirror, a
local copy) have the same fingerprint, a fine-tune or another model of the same architecture has another.

Why these choices:

- **From the files, not the loaded tensors.** A model loaded in bfloat16 for training, in float16 on a GPU or
  in float32 on a CPU holds differently rounded values; the files do not change with the load dtype, the
  device, LoRA layers added on top or a DistributedDataParallel wrapper.
- **Values canonicalised to float16.** A float16 copy of a float32 checkpoint (``save_pretrained`` after an
  fp16 load, the hub's ``fp16`` variants) holds the float32 values rounded to float16, so both hash the same.
  A bfloat16 copy does not (float32 -> bfloat16 -> float16 is another rounding than float32 -> float16).
- **A fixed sample of every tensor, not every byte.** Three blocks of :data:`BLOCK` elements per tensor (its
  start, middle and end) are read through the file's header offsets: at most 3 KB per tensor. Stable
  Diffusion 2 inpainting has 686 UNet and 372 text-encoder tensors (4.8 GB in float32): 3.2 MB are read and
  the fingerprint took 51 ms on SD2-shaped files (2 shared CPU cores), where hashing every byte would read
  4.8 GB and take seconds to tens of seconds. Any fine-tune or merged LoRA changes whole matrices, hence
  their sampled elements; a change confined to a few unsampled elements would go unnoticed, acceptable
  for a compatibility check.
- **Tensor names and order ignored.** Each tensor's shape and sample are hashed on their own and the
  digests sorted, so a checkpoint whose keys another library version renames still matches.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

BLOCK = 256
"""Elements read at each of a tensor's start, middle and end."""

FINGERPRINTED_PARTS = ("unet", "text_encoder")
OPTIONAL_PARTS = ("text_encoder_2",)
"""Hashed when the folder has them (SDXL's second text encoder); a Stable Diffusion folder hashes as it
always did, so the cards of its concepts keep matching."""
_MAX_HEADER_BYTES = 100 * 1024 * 1024
_FLOAT_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16}
_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}


def weight_files(component_dir: Path) -> list[Path]:
    """The safetensors files diffusers loads from a component folder (``unet/``, ``text_encoder/``).

    Without a ``variant``, diffusers loads the files whose stem has no dot: ``model.safetensors``,
    ``diffusion_pytorch_model-00001-of-00002.safetensors``, not ``model.fp16.safetensors``.
    """
    files = sorted(component_dir.glob("*.safetensors"))
    plain = [f for f in files if "." not in f.name.removesuffix(".safetensors")]
    return plain


def _canonical(raw: bytes, dtype: str) -> bytes:
    """Sampled elements (little-endian ``dtype``) as float16 bytes."""
    if dtype == "BF16":
        # bfloat16 is the upper half of a float32
        as_f32 = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        return as_f32.astype("<f2").tobytes()
    return np.frombuffer(raw, dtype=np.dtype(_FLOAT_DTYPES[dtype]).newbyteorder("<")).astype("<f2").tobytes()


def _tensor_digests(path: Path) -> list[str]:
    """One digest per floating-point tensor of a safetensors file: its shape and its sampled elements.

    Integer tensors are left out: they are buffers such as CLIP's ``position_ids``, which some
    transformers versions save and others do not, so a re-saved copy would not match.
    """
    digests = []
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (size,) = struct.unpack("<Q", head)
        if size > _MAX_HEADER_BYTES:
            raise ValueError(f"{path}: not a safetensors file (header length {size})")
        header = json.loads(fh.read(size))
        data_start = 8 + size
        for key, info in header.items():
            if key == "__metadata__":
                continue
            dtype, shape = info["dtype"], info["shape"]
            if dtype not in _ITEM_BYTES:
                continue
            begin, end = info["data_offsets"]
            item = _ITEM_BYTES[dtype]
            count = (end - begin) // item
            n = min(BLOCK, count)
            starts = sorted({0, (count - n) // 2, count - n})
            blob = bytearray()
            for start in starts:
                fh.seek(data_start + begin + start * item)
                blob += _canonical(fh.read(n * item), dtype)
            digests.append(hashlib.sha256(json.dumps(shape).encode() + b"|" + bytes(blob)).hexdigest())
    return digests


def weights_fingerprint(model_dir: str | Path) -> str | None:
    """A 16-hex-digit hash of the UNet and text-encoder(s) weights of a diffusers pipeline folder.

    ``None`` when a part has no safetensors weights (a pickle-only ``.bin`` model): the concept check then
    compares architectures only.
    """
    model_dir = Path(model_dir)
    total = hashlib.sha256()
    parts = FINGERPRINTED_PARTS + tuple(p for p in OPTIONAL_PARTS if (model_dir / p).is_dir())
    for part in parts:
        files = weight_files(model_dir / part)
        if not files:
            return None
        digests = sorted(d for f in files for d in _tensor_digests(f))
        total.update(f"{part}:{len(digests)}:".encode())
        total.update("".join(digests).encode())
    return total.hexdigest()[:16]
