"""Anomaly maps and masks on disk: maps as ``.npy`` or float TIFF, masks as images, paired by file stem."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from defect_core.errors import DatasetError, InputFileError
from defect_core.images import list_images, load_mask

logger = logging.getLogger(__name__)

MAP_SUFFIXES = (".npy", ".tif", ".tiff")


def load_anomaly_map(path: str | Path) -> np.ndarray:
    """One anomaly map as a finite float array (H, W): ``.npy`` (leading size-1 axes dropped) or a TIFF read
    as 32-bit float (PIL mode "F"). Raises :class:`InputFileError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputFileError(path, f"cannot be read as a .npy array ({exc})") from exc
        while array.ndim > 2 and array.shape[0] == 1:
            array = array[0]
    elif suffix in (".tif", ".tiff"):
        try:
            with Image.open(path) as image:
                array = np.asarray(
                    image.convert("F") if image.mode != "F" else image, dtype=np.float32
                ).copy()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot be read as a TIFF image ({exc})") from exc
    else:
        raise InputFileError(path, f"unsupported anomaly map format {suffix!r} (use one of {MAP_SUFFIXES})")
    if array.ndim != 2:
        raise InputFileError(path, f"an anomaly map must be 2-D (H, W), got shape {array.shape}")
    if array.dtype.kind not in "fiub":
        raise InputFileError(path, f"an anomaly map must be real-valued, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise InputFileError(path, "contains NaN or infinite values")
    return array


def list_maps(folder: str | Path) -> list[Path]:
    """Anomaly map files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "folder does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MAP_SUFFIXES)


@dataclass(frozen=True)
class MapMaskFiles:
    """Map files and, for each, its mask file (``None``: no mask file, read as defect-free)."""

    maps: list[Path]
    masks: list[Path | None]

    def load(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(maps float (H, W), masks bool (H, W)); a map whose size differs from its mask's raises."""
        maps, masks = [], []
        for map_path, mask_path in zip(self.maps, self.masks, strict=True):
            amap = load_anomaly_map(map_path)
            if mask_path is None:
                mask = np.zeros(amap.shape, dtype=bool)
            else:
                mask = load_mask(mask_path)
                if mask.shape != amap.shape:
                    raise InputFileError(
                        map_path,
                        f"map is {amap.shape[1]}×{amap.shape[0]} but mask {mask_path} is "
                        f"{mask.shape[1]}×{mask.shape[0]}",
                    )
            maps.append(amap)
            masks.append(mask)
        return maps, masks


def pair_maps_with_masks(
    maps_dir: str | Path, masks_dir: str | Path, *, missing_mask_is_good: bool = False
) -> MapMaskFiles:
    """Pair every map in ``maps_dir`` with the mask of the same stem in ``masks_dir``.

    A map without a mask is an error unless ``missing_mask_is_good`` (then it is a defect-free image);
    a mask without a map, or two files with the same stem, is always an error. All problems are reported
    together in one :class:`DatasetError`.
    """
    map_paths = list_maps(maps_dir)
    mask_paths = list_images(masks_dir)
    problems: list[InputFileError] = []
    if not map_paths:
        problems.append(
            InputFileError(maps_dir, f"no anomaly maps ({', '.join(MAP_SUFFIXES)}) in this folder")
        )
    by_stem: dict[str, Path] = {}
    for path in mask_paths:
        if path.stem in by_stem:
            problems.append(InputFileError(path, f"has the same stem as {by_stem[path.stem]}"))
        by_stem[path.stem] = path
    seen: dict[str, Path] = {}
    masks: list[Path | None] = []
    for path in map_paths:
        if path.stem in seen:
            problems.append(InputFileError(path, f"has the same stem as {seen[path.stem]}"))
        seen[path.stem] = path
        mask = by_stem.get(path.stem)
        if mask is None and not missing_mask_is_good:
            problems.append(InputFileError(path, f"has no mask named {path.stem}.* in {masks_dir}"))
        masks.append(mask)
    for stem, path in by_stem.items():
        if stem not in seen:
            problems.append(InputFileError(path, f"has no anomaly map named {stem}.* in {maps_dir}"))
    if problems:
        raise DatasetError(maps_dir, problems)
    return MapMaskFiles(maps=map_paths, masks=masks)


def pair_by_stem(
    left: list[Path], right: list[Path], left_dir: str | Path, right_dir: str | Path
) -> list[tuple[Path, Path]]:
    """Pair files of two listings by stem; every unpaired or duplicated stem is reported in one
    :class:`DatasetError`."""
    problems: list[InputFileError] = []

    def index(paths: list[Path]) -> dict[str, Path]:
        by_stem: dict[str, Path] = {}
        for path in paths:
            if path.stem in by_stem:
                problems.append(InputFileError(path, f"has the same stem as {by_stem[path.stem]}"))
            by_stem[path.stem] = path
        return by_stem

    left_by, right_by = index(left), index(right)
    problems += [
        InputFileError(p, f"has no counterpart named {s}.* in {right_dir}")
        for s, p in left_by.items()
        if s not in right_by
    ]
    problems += [
        InputFileError(p, f"has no counterpart named {s}.* in {left_dir}")
        for s, p in right_by.items()
        if s not in left_by
    ]
    if not left_by and not right_by:
        problems.append(InputFileError(left_dir, "no files to pair"))
    if problems:
        raise DatasetError(left_dir, problems)
    return [(left_by[s], right_by[s]) for s in sorted(left_by)]


def load_label_map(path: str | Path) -> np.ndarray:
    """A class-index image (PIL mode "L", "P", "I" or "I;16") as an int64 array (H, W)."""
    from defect_core.images import open_image

    image = open_image(path)
    if image.mode not in ("L", "P", "I", "I;16", "1"):
        raise InputFileError(
            path, f"a label map must be a single-channel index image, got mode {image.mode!r}"
        )
    return np.asarray(image).astype(np.int64)
