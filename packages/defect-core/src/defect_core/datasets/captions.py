"""Defect Spectrum's per-image captions, ``captions.xlsx``, read with openpyxl (``defect-core[captions]``).

Layout read: the first worksheet; its first non-empty row is the header. One column holds the image's path,
one the caption. Header names are matched without regard to case, spaces, ``_`` or ``-``:

- path column: the first of :data:`PATH_HEADERS` present (the published DS-MVTec file calls it ``Path``);
- caption column: the first of :data:`CAPTION_HEADERS` present (the published file's per-image text is its
  ``defect description`` column).

Only those two columns are known from the published file (other columns are ignored). A path is matched to
an image by its last components: ``.../<object>/image/<defect>/<file>`` when it has an ``image`` component,
else ``<object>/<defect>/<file>``; the file is compared by stem. So absolute paths, paths relative to the
subset folder and Windows separators all match. Rows with an empty path or caption are skipped; a path too
short to name object, defect and file is skipped with a warning.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath

from defect_core.errors import InputFileError

logger = logging.getLogger(__name__)

CAPTIONS_FILE = "captions.xlsx"
CAPTIONS_EXTRA = "defect-core[captions]"
PATH_HEADERS = ("path", "image path", "image", "file path", "file", "file name", "filename", "image name")
CAPTION_HEADERS = ("caption", "defect description", "description", "text")
IMAGE_FOLDER = "image"

CaptionKey = tuple[str, str, str]
"""(object, defect folder, image file stem): what a caption is looked up by."""


def _header(value: object) -> str:
    return re.sub(r"[\s_\-]+", " ", str(value or "")).strip().lower()


def caption_key(path_text: str) -> CaptionKey | None:
    """The (object, defect, stem) that a ``Path`` cell names, or ``None`` when it is too short to say."""
    parts = [p for p in str(path_text).replace("\\", "/").split("/") if p and p != "."]
    if len(parts) < 3:
        return None
    stem = PurePosixPath(parts[-1]).stem
    if len(parts) >= 4 and parts[-3] == IMAGE_FOLDER:
        return (parts[-4], parts[-2], stem)
    return (parts[-3], parts[-2], stem)


def require_openpyxl() -> object:
    """The ``openpyxl`` module, or ``ImportError`` naming the extra that installs it."""
    try:
        import openpyxl
    except ImportError as exc:
        raise ImportError(
            f"reading Defect Spectrum's {CAPTIONS_FILE} needs openpyxl: install {CAPTIONS_EXTRA} "
            f"(pip install '{CAPTIONS_EXTRA}'); everything else of the dataset reads without it"
        ) from exc
    return openpyxl


def _pick(header: list[str], accepted: tuple[str, ...]) -> int | None:
    for name in accepted:
        if name in header:
            return header.index(name)
    return None


def read_captions(path: str | Path) -> dict[CaptionKey, str]:
    """Captions of ``captions.xlsx`` by (object, defect, image stem).

    Raises ``ImportError`` naming ``defect-core[captions]`` without openpyxl, and
    :class:`InputFileError` naming the file when it is missing, is no readable workbook, or has no path or
    caption column (the message lists the header found and the names accepted).
    """
    path = Path(path)
    openpyxl = require_openpyxl()
    if not path.is_file():
        raise InputFileError(path, "captions file does not exist")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for a bad file
        raise InputFileError(
            path, f"cannot be read as an .xlsx workbook ({exc.__class__.__name__}: {exc})"
        ) from exc
    try:
        rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()
    rows = [row for row in rows if any(cell not in (None, "") for cell in row)]
    if not rows:
        raise InputFileError(path, "has no rows (expected a header with a path and a caption column)")
    header = [_header(cell) for cell in rows[0]]
    path_column, caption_column = _pick(header, PATH_HEADERS), _pick(header, CAPTION_HEADERS)
    if path_column is None or caption_column is None:
        missing = "path column" if path_column is None else "caption column"
        accepted = PATH_HEADERS if path_column is None else CAPTION_HEADERS
        raise InputFileError(
            path, f"has no {missing}: header is {header}; accepted names: {', '.join(accepted)}"
        )

    captions: dict[CaptionKey, str] = {}
    unkeyed: list[str] = []
    for row in rows[1:]:
        cells = row + [None] * (len(header) - len(row))
        where, text = cells[path_column], cells[caption_column]
        if where in (None, "") or text is None or not str(text).strip():
            continue
        key = caption_key(str(where))
        if key is None:
            unkeyed.append(str(where))
            continue
        captions.setdefault(key, str(text).strip())
    if unkeyed:
        logger.warning(
            "%s: %d path(s) too short to name object, defect and file, skipped: %s",
            path,
            len(unkeyed),
            ", ".join(unkeyed[:5]),
        )
    logger.debug("%s: %d caption(s)", path, len(captions))
    return captions
