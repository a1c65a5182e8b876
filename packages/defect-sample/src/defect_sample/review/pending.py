"""Generations waiting for decisions, kept on disk so that a restarted app shows them again.

``out/review_pending/g<id>/`` holds ``normal.png`` and ``mask.png`` (at the working size), one
``candidate_<k>.png`` per undecided candidate and ``generation.json`` (a :class:`GenerationInfo`), written
last: a folder without it is a generation whose writing was interrupted, and is removed. A candidate's
file goes once it is decided (an accepted one lives on in ``defect/``, a rejected one nowhere), and the
folder goes with its last candidate.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from defect_core.atomic import save_image_atomic, write_text_atomic
from defect_core.images import load_mask, load_rgb, mask_to_image
from defect_sample.review.records import GenerationInfo

logger = logging.getLogger(__name__)

PENDING_DIR = "review_pending"
INFO_NAME = "generation.json"
_FOLDER = re.compile(r"g(\d{5,})")


@dataclass
class StagedGeneration:
    """A generation as kept on disk: its info, working-size normal image and mask, and the candidate images
    still there (index → image; decided ones are absent)."""

    info: GenerationInfo
    normal: Image.Image
    mask: np.ndarray
    candidates: dict[int, Image.Image] = field(default_factory=dict)


class PendingGenerations:
    """The ``review_pending/`` folder of one output folder."""

    def __init__(self, out_dir: str | Path) -> None:
        self.root = Path(out_dir).resolve() / PENDING_DIR

    def folder(self, generation: int) -> Path:
        return self.root / f"g{generation:05d}"

    def candidate_path(self, generation: int, index: int) -> Path:
        return self.folder(generation) / f"candidate_{index}.png"

    def save(
        self, info: GenerationInfo, normal: Image.Image, mask: np.ndarray, candidates: Sequence[Image.Image]
    ) -> Path:
        """Write one new generation (images first, ``generation.json`` last); returns its folder."""
        folder = self.folder(info.generation)
        save_image_atomic(normal.convert("RGB"), folder / "normal.png")
        save_image_atomic(mask_to_image(mask), folder / "mask.png")
        for k, image in enumerate(candidates):
            save_image_atomic(image.convert("RGB"), self.candidate_path(info.generation, k))
        write_text_atomic(folder / INFO_NAME, info.to_json(relative_to=folder.parent.parent, indent=1))
        return folder

    def load_all(self) -> list[StagedGeneration]:
        """Every complete generation, oldest first; incomplete folders (no ``generation.json``) are removed."""
        if not self.root.is_dir():
            return []
        staged = []
        for folder in sorted(self.root.iterdir()):
            if not (folder.is_dir() and _FOLDER.fullmatch(folder.name)):
                continue
            info_path = folder / INFO_NAME
            if not info_path.is_file():
                logger.info("removing %s: its writing was interrupted before it was complete", folder)
                shutil.rmtree(folder, ignore_errors=True)
                continue
            info = GenerationInfo.from_json(info_path.read_text(encoding="utf-8"), base=self.root.parent)
            candidates = {
                k: load_rgb(self.candidate_path(info.generation, k))
                for k in range(info.candidates)
                if self.candidate_path(info.generation, k).is_file()
            }
            staged.append(
                StagedGeneration(
                    info, load_rgb(folder / "normal.png"), load_mask(folder / "mask.png"), candidates
                )
            )
        return staged

    def discard_candidate(self, generation: int, index: int) -> None:
        """Remove a decided candidate's file (no error if it is gone already)."""
        self.candidate_path(generation, index).unlink(missing_ok=True)

    def discard(self, generation: int) -> None:
        """Remove a generation whose every candidate is decided."""
        shutil.rmtree(self.folder(generation), ignore_errors=True)
