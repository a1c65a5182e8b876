"""A small KSDD2-shaped dataset written by code: ``train/`` and ``test/`` folders of tall strips with ``_GT``
files (0 / 1 ground truth, as some copies of KSDD2 ship), and the official download's stray duplicate pair.

Defects are bright bars on dark noise, so a detector that learns anything ranks them first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 24, 64  # KSDD2's strips are about 230 x 630: tall, as here
DUPLICATES = ("10301 (copy).png", "10301_GT (copy).png")


def write_ksdd2(
    root: Path, train: tuple[int, int] = (6, 10), test: tuple[int, int] = (3, 5), seed: int = 0
) -> Path:
    """``root/{train,test}/<n>.png`` and ``<n>_GT.png``: (positives, negatives) per split; train also holds
    ``10301 (copy).png`` / ``10301_GT (copy).png``, copies of its first positive. Returns ``root``."""
    rng = np.random.default_rng(seed)
    for split, (positives, negatives), first in (("train", train, 10300), ("test", test, 20000)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(positives + negatives):
            image = rng.integers(0, 60, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
            if k < positives:
                top = int(rng.integers(4, HEIGHT - 24))
                left = int(rng.integers(2, WIDTH - 10))
                mask[top : top + 16, left : left + 6] = 1
                image[mask > 0] = rng.integers(200, 256, (int(mask.sum()), 3), dtype=np.uint8)
            name = str(first + k)
            Image.fromarray(image).save(folder / f"{name}.png")
            Image.fromarray(mask).save(folder / f"{name}_GT.png")
    source = root / "train"
    (source / DUPLICATES[0]).write_bytes((source / "10300.png").read_bytes())
    (source / DUPLICATES[1]).write_bytes((source / "10300_GT.png").read_bytes())
    return root
