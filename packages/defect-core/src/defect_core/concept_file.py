"""The concept file: one ``.safetensors`` with LoRA tensors and a ``ConceptCard`` in its metadata.

Tensors use diffusers' LoRA key layout (``unet.…``, ``text_encoder.…``), so that a stock
``StableDiffusionInpaintPipeline.load_lora_weights(path)`` accepts the same file. Never pickle: a pickle
can run code when it is loaded, and concept files are meant to be shared.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save

from defect_core.atomic import write_bytes_atomic
from defect_core.concept_card import CONCEPT_FORMAT_VERSION, ConceptCard
from defect_core.errors import ConceptFileError

CARD_METADATA_KEY = "defectfill.concept_card"
_MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Concept:
    """A loaded concept: its card and its LoRA tensors (numpy arrays keyed as in diffusers' layout)."""

    card: ConceptCard
    tensors: dict[str, np.ndarray]
    path: Path | None = None


def save_concept(path: str | Path, tensors: dict[str, np.ndarray], card: ConceptCard) -> Path:
    """Write ``tensors`` and ``card`` to ``path`` (atomically: an existing file is replaced only on success)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ConceptFileError(path, "a concept file must have the .safetensors suffix")
    if not tensors:
        raise ConceptFileError(path, "refusing to write a concept without tensors")
    bad = [k for k in tensors if not (k.startswith("unet.") or k.startswith("text_encoder."))]
    if bad:
        raise ConceptFileError(path, f"tensor keys must start with 'unet.' or 'text_encoder.', got {bad[:3]}")
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    metadata = {CARD_METADATA_KEY: card.to_json(), "format": "pt"}
    try:
        data = save(arrays, metadata=metadata)
    except (SafetensorError, ValueError, TypeError) as exc:
        raise ConceptFileError(path, f"cannot serialize the tensors ({exc})") from exc
    return write_bytes_atomic(path, data)


def _looks_like_pickle_or_zip(head: bytes) -> bool:
    """Pickle protocol 2-5 opens with PROTO (0x80) and its version; a torch zip checkpoint with a local file header."""
    return (head[:1] == b"\x80" and 2 <= head[1] <= 5) or head[:4] == b"PK\x03\x04"


def _check_safetensors_header(path: Path) -> dict[str, str]:
    """Read the header without trusting the file; return its ``__metadata__``."""
    if not path.is_file():
        raise ConceptFileError(path, "concept file does not exist")
    file_size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(9)
        if len(head) < 9:
            raise ConceptFileError(path, "file is too short to be a safetensors file")
        (size,) = struct.unpack("<Q", head[:8])
        # The file's own structure decides first: the header length is any 8-byte number, so its low byte is 0x80
        # (pickle's PROTO opcode) for one padded length in 32. Only a file that is not safetensors is checked for
        # pickle's real opening, which then names the problem better than "no JSON header".
        if not (head[8:9] == b"{" and 2 <= size <= _MAX_HEADER_BYTES):
            if _looks_like_pickle_or_zip(head):
                raise ConceptFileError(
                    path,
                    "this is a pickle / torch checkpoint, not safetensors; "
                    "defectfill never loads pickles (convert it to .safetensors)",
                )
            raise ConceptFileError(path, "not a safetensors file (no JSON header)")
        fh.seek(8)
        raw = fh.read(size)
    if len(raw) < size:
        raise ConceptFileError(
            path, f"file is truncated: its header alone needs {8 + size} bytes, the file has {file_size}"
        )
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConceptFileError(path, f"corrupt safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise ConceptFileError(path, "corrupt safetensors header (not a JSON object)")
    # checked here so that reading only the card (no tensors) also catches a file cut short by a crash
    ends = [
        info["data_offsets"][1]
        for key, info in header.items()
        if key != "__metadata__"
        and isinstance(info, dict)
        and isinstance(info.get("data_offsets"), list)
        and len(info["data_offsets"]) == 2
        and isinstance(info["data_offsets"][1], int)
    ]
    needed = 8 + size + max(ends, default=0)
    if file_size < needed:
        raise ConceptFileError(
            path, f"file is truncated: its header describes {needed} bytes, the file has {file_size}"
        )
    return header.get("__metadata__") or {}


def read_concept_card(path: str | Path) -> ConceptCard:
    """Read only the card of a concept file (cheap: the tensors are not loaded)."""
    path = Path(path)
    metadata = _check_safetensors_header(path)
    if CARD_METADATA_KEY not in metadata:
        raise ConceptFileError(
            path,
            "safetensors file has no defectfill concept card in its metadata "
            "(a plain LoRA file? it can be loaded with diffusers directly)",
        )
    try:
        raw = json.loads(metadata[CARD_METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ConceptFileError(path, f"concept card is not valid JSON ({exc})") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if not isinstance(version, int) or version < 1:
        raise ConceptFileError(path, f"concept card has no valid format_version (got {version!r})")
    if version > CONCEPT_FORMAT_VERSION:
        raise ConceptFileError(
            path,
            f"concept format version {version} is newer than this defectfill "
            f"supports ({CONCEPT_FORMAT_VERSION}); upgrade defect-core",
        )
    try:
        return ConceptCard.from_dict(raw)
    except (ValueError, TypeError) as exc:
        raise ConceptFileError(path, f"invalid concept card: {exc}") from exc


def load_concept(path: str | Path) -> Concept:
    """Load a concept file: validate the header and card, then read the tensors as numpy arrays."""
    path = Path(path)
    card = read_concept_card(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConceptFileError(path, f"corrupt tensor data ({exc})") from exc
    if not tensors:
        raise ConceptFileError(path, "concept file holds no tensors")
    return Concept(card=card, tensors=tensors, path=path)


def list_concept_tensor_names(path: str | Path) -> list[str]:
    """Names of the tensors in a concept file, without loading them."""
    path = Path(path)
    _check_safetensors_header(path)
    with safe_open(str(path), framework="np") as fh:
        return sorted(fh.keys())
