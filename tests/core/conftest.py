"""Writers of tiny image and mask files for the dataset-reader tests (16x16 PNGs unless told otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


class FixtureFiles:
    """Write small test files; every writer creates parent folders and returns the path it wrote."""

    size = (16, 16)  # width, height

    def image(self, path: Path, size: tuple[int, int] = size, seed: int = 0) -> Path:
        """A random RGB image; the suffix of ``path`` picks the format."""
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels, mode="RGB").save(path)
        return path

    def mask(
        self,
        path: Path,
        size: tuple[int, int] = size,
        box: tuple[int, int, int, int] | None = (4, 4, 8, 8),
        value: int = 255,
    ) -> Path:
        """A gray mask, 0 outside ``box`` (x0, y0, x1, y1) and ``value`` inside; ``box=None`` is all zero."""
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((size[1], size[0]), dtype=np.uint8)
        if box is not None:
            x0, y0, x1, y1 = box
            pixels[y0:y1, x0:x1] = value
        Image.fromarray(pixels, mode="L").save(path)
        return path

    def corrupt(self, path: Path) -> Path:
        """A PNG cut in half: its header is valid, decoding its pixels fails."""
        path.parent.mkdir(parents=True, exist_ok=True)
        good = path.with_name("_tmp_source.png")
        self.image(good)
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        good.unlink()
        return path


@pytest.fixture
def files() -> FixtureFiles:
    return FixtureFiles()
