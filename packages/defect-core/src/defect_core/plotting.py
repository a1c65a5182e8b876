"""Line plots and matrix plots drawn with Pillow alone, so that every package can draw without matplotlib.

Used for ROC / PR / PRO curves in metric reports, for loss curves in training runs (:func:`line_plot`) and
for confusion matrices (:func:`matrix_plot`). The output is a plain RGB PNG with axes or labels, a title
and a legend where it applies; it is written atomically.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from defect_core.atomic import save_image_atomic

logger = logging.getLogger(__name__)

#: Series colours in order (matplotlib's "tab10"): distinct, readable on white, safe for most colour-blind readers.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)

_BACKGROUND = (255, 255, 255)
_AXIS = (0, 0, 0)
_GRID = (225, 225, 225)
_TEXT = (0, 0, 0)
_LINE_WIDTH = 2


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def _nice_step(span: float, target_ticks: int) -> float:
    """A step of 1, 2 or 5 times a power of ten that splits ``span`` into about ``target_ticks`` parts."""
    raw = span / max(target_ticks, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def _linear_ticks(low: float, high: float, target_ticks: int = 6) -> tuple[float, float, list[float]]:
    """Range widened to multiples of a nice step, and the ticks inside it."""
    if high <= low:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    step = _nice_step(high - low, target_ticks)
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    count = round((stop - start) / step)
    ticks = [start + i * step for i in range(count + 1)]
    return start, stop, ticks


def _format_tick(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.1e}"
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{decimals}f}"


def _clean_series(
    name: str, xs: Sequence[float], ys: Sequence[float], log_y: bool
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(xs, dtype=np.float64).ravel()
    y = np.asarray(ys, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"series {name!r}: x has {x.size} values but y has {y.size}")
    if log_y:
        dropped = int(np.sum(np.isfinite(y) & (y <= 0)))
        if dropped:
            logger.warning("series %r: %d non-positive values left out of the log-scale plot", name, dropped)
        y = np.where(y > 0, y, np.nan)
        y = np.log10(y)
    return x, y


def line_plot(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (640, 480),
    log_y: bool = False,
) -> Path:
    """Draw one line per series and write the plot as a PNG at ``path`` (atomically).

    ``series`` maps a legend label to ``(xs, ys)``, two equally long sequences of floats; points whose x or
    y is not finite are skipped and break the line there. ``size`` is (width, height) in pixels. With
    ``log_y`` the y axis is logarithmic (base 10) and non-positive y values are skipped. Colours follow
    :data:`PALETTE` in the order of ``series`` (they repeat after ten series). Returns ``Path(path)``.
    """
    if not series:
        raise ValueError("series is empty: nothing to plot")
    width, height = size
    if width < 160 or height < 120:
        raise ValueError(f"size must be at least (160, 120), got {size}")
    cleaned = {name: _clean_series(name, xs, ys, log_y) for name, (xs, ys) in series.items()}
    finite_x = [x[np.isfinite(x) & np.isfinite(y)] for x, y in cleaned.values()]
    finite_y = [y[np.isfinite(x) & np.isfinite(y)] for x, y in cleaned.values()]
    all_x = np.concatenate(finite_x) if finite_x else np.empty(0)
    all_y = np.concatenate(finite_y) if finite_y else np.empty(0)
    if all_x.size == 0:
        raise ValueError("no series has a finite point to plot")

    x_low, x_high, x_ticks = _linear_ticks(float(all_x.min()), float(all_x.max()))
    if log_y:
        y_low, y_high = math.floor(float(all_y.min())), math.ceil(float(all_y.max()))
        if y_high == y_low:
            y_high = y_low + 1
        decade_step = max(1, math.ceil((y_high - y_low) / 8))
        y_high = y_low + math.ceil((y_high - y_low) / decade_step) * decade_step
        y_ticks = [float(v) for v in range(int(y_low), int(y_high) + 1, decade_step)]
    else:
        y_low, y_high, y_ticks = _linear_ticks(float(all_y.min()), float(all_y.max()))

    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font(12)
    title_font = _font(15)
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    y_labels = [f"1e{int(v)}" if log_y else _format_tick(v, y_step) for v in y_ticks]
    tick_label_width = max(_text_size(draw, s, font)[0] for s in y_labels)
    _, text_height = _text_size(draw, "0.9", font)

    left = 12 + tick_label_width + (text_height + 10 if ylabel else 0)
    top = 14 + (_text_size(draw, title, title_font)[1] + 10 if title else 0)
    right = width - 16
    bottom = height - (text_height + 14) - (text_height + 10 if xlabel else 0)

    def to_px(x: float, y: float) -> tuple[float, float]:
        px = left + (x - x_low) / (x_high - x_low) * (right - left)
        py = bottom - (y - y_low) / (y_high - y_low) * (bottom - top)
        return px, py

    for tick in x_ticks:
        px, _ = to_px(tick, y_low)
        draw.line([(px, top), (px, bottom)], fill=_GRID)
        draw.line([(px, bottom), (px, bottom + 4)], fill=_AXIS)
        label = _format_tick(tick, x_step)
        tw, _ = _text_size(draw, label, font)
        draw.text((px - tw / 2, bottom + 6), label, fill=_TEXT, font=font)
    for tick, label in zip(y_ticks, y_labels, strict=True):
        _, py = to_px(x_low, tick)
        draw.line([(left, py), (right, py)], fill=_GRID)
        draw.line([(left - 4, py), (left, py)], fill=_AXIS)
        tw, th = _text_size(draw, label, font)
        draw.text((left - 6 - tw, py - th / 2 - 2), label, fill=_TEXT, font=font)
    draw.rectangle([left, top, right, bottom], outline=_AXIS)

    if title:
        tw, _ = _text_size(draw, title, title_font)
        draw.text(((width - tw) / 2, 8), title, fill=_TEXT, font=title_font)
    if xlabel:
        tw, _ = _text_size(draw, xlabel, font)
        draw.text(((left + right - tw) / 2, height - text_height - 10), xlabel, fill=_TEXT, font=font)
    if ylabel:
        tw, th = _text_size(draw, ylabel, font)
        label_image = Image.new("RGB", (tw + 4, th + 6), _BACKGROUND)
        ImageDraw.Draw(label_image).text((2, 0), ylabel, fill=_TEXT, font=font)
        rotated = label_image.rotate(90, expand=True)
        image.paste(rotated, (4, int((top + bottom - rotated.height) / 2)))

    for index, (x, y) in enumerate(cleaned.values()):
        colour = PALETTE[index % len(PALETTE)]
        finite = np.isfinite(x) & np.isfinite(y)
        # Split at non-finite points so that a gap in the data is a gap in the line.
        breaks = np.flatnonzero(~finite)
        for segment_x, segment_y in zip(np.split(x, breaks), np.split(y, breaks), strict=True):
            keep = np.isfinite(segment_x) & np.isfinite(segment_y)
            points = [
                to_px(float(a), float(b)) for a, b in zip(segment_x[keep], segment_y[keep], strict=True)
            ]
            if len(points) == 1:
                px, py = points[0]
                draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
            elif points:
                draw.line(points, fill=colour, width=_LINE_WIDTH, joint="curve")

    swatch = 18
    legend_rows = [(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(cleaned)]
    legend_width = swatch + 10 + max(_text_size(draw, name, font)[0] for name, _ in legend_rows)
    row_height = max(text_height, 6) + 6
    box_left = right - legend_width - 14
    box_top = top + 8
    box = [box_left, box_top, right - 6, box_top + row_height * len(legend_rows) + 6]
    draw.rectangle(box, fill=_BACKGROUND, outline=_GRID)
    for row, (name, colour) in enumerate(legend_rows):
        y_mid = box_top + 6 + row * row_height + row_height / 2 - 3
        draw.line([(box_left + 4, y_mid), (box_left + 4 + swatch, y_mid)], fill=colour, width=_LINE_WIDTH + 1)
        draw.text((box_left + swatch + 10, y_mid - text_height / 2 - 2), name, fill=_TEXT, font=font)

    return save_image_atomic(image, path)


#: Colour of a matrix cell at value 1 (cells fade from white at 0); matrix_plot's empty rows are _NO_DATA.
_MATRIX_FULL = PALETTE[0]
_NO_DATA = (235, 235, 235)


def matrix_plot(
    values: np.ndarray,
    path: str | Path,
    *,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    cell_text: Sequence[Sequence[str]] | None = None,
    cell: int = 44,
) -> Path:
    """Draw a matrix as a grid of shaded cells (a confusion matrix) and write it as a PNG at ``path``.

    ``values`` is float (R, C) in [0, 1] (clipped): a cell is white at 0 and :data:`PALETTE`'s first colour
    at 1; NaN cells (no data, e.g. a class with no pixels) are light grey. Each cell shows ``cell_text`` (R x C
    strings) or its value with two decimals. Row labels go left of the rows, column labels under the
    columns (written vertically, so long class names fit). ``cell`` is the cell side in pixels. Written
    atomically; returns ``Path(path)``.
    """
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"values must be a non-empty 2-D array, got shape {matrix.shape}")
    rows, columns = matrix.shape
    if len(row_labels) != rows or len(column_labels) != columns:
        raise ValueError(
            f"{len(row_labels)} row and {len(column_labels)} column labels for a {rows} x {columns} matrix"
        )
    if cell_text is not None and (len(cell_text) != rows or any(len(r) != columns for r in cell_text)):
        raise ValueError(f"cell_text must be {rows} rows of {columns} strings")
    if cell < 16:
        raise ValueError(f"cell must be at least 16 pixels, got {cell}")
    font, title_font = _font(12), _font(15)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    _, text_height = _text_size(probe, "Ag", font)
    row_width = max(_text_size(probe, str(s), font)[0] for s in row_labels)
    column_height = max(_text_size(probe, str(s), font)[0] for s in column_labels)
    title_height = _text_size(probe, title, title_font)[1] + 12 if title else 0
    left = 10 + (text_height + 10 if ylabel else 0) + row_width + 8
    top = 10 + title_height
    right = left + columns * cell
    bottom = top + rows * cell
    width = max(right + 12, left + _text_size(probe, title, title_font)[0] + 12 if title else 0)
    height = bottom + 8 + column_height + (text_height + 16 if xlabel else 8)

    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    full = np.asarray(_MATRIX_FULL, dtype=np.float64)
    for r in range(rows):
        for c in range(columns):
            value = matrix[r, c]
            x0, y0 = left + c * cell, top + r * cell
            if np.isnan(value):
                colour = _NO_DATA
            else:
                share = float(np.clip(value, 0.0, 1.0))
                colour = tuple(int(round(255.0 + (v - 255.0) * share)) for v in full)
            draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=colour, outline=_GRID)
            text = cell_text[r][c] if cell_text is not None else ("" if np.isnan(value) else f"{value:.2f}")
            if text:
                tw, th = _text_size(draw, text, font)
                # white text on the dark half of the scale, black on the light half
                ink = (255, 255, 255) if not np.isnan(value) and value > 0.55 else _TEXT
                draw.text((x0 + (cell - tw) / 2, y0 + (cell - th) / 2 - 2), text, fill=ink, font=font)
    draw.rectangle([left, top, right, bottom], outline=_AXIS)
    for r, label in enumerate(row_labels):
        tw, th = _text_size(draw, str(label), font)
        draw.text((left - 8 - tw, top + r * cell + (cell - th) / 2 - 2), str(label), fill=_TEXT, font=font)
    for c, label in enumerate(column_labels):
        tw, th = _text_size(draw, str(label), font)
        label_image = Image.new("RGB", (tw + 4, th + 6), _BACKGROUND)
        ImageDraw.Draw(label_image).text((2, 0), str(label), fill=_TEXT, font=font)
        rotated = label_image.rotate(90, expand=True)
        image.paste(rotated, (int(left + c * cell + (cell - rotated.width) / 2), bottom + 6))
    if title:
        tw, _ = _text_size(draw, title, title_font)
        draw.text((max(8, (width - tw) / 2), 8), title, fill=_TEXT, font=title_font)
    if xlabel:
        tw, _ = _text_size(draw, xlabel, font)
        draw.text(((left + right - tw) / 2, height - text_height - 10), xlabel, fill=_TEXT, font=font)
    if ylabel:
        tw, th = _text_size(draw, ylabel, font)
        label_image = Image.new("RGB", (tw + 4, th + 6), _BACKGROUND)
        ImageDraw.Draw(label_image).text((2, 0), ylabel, fill=_TEXT, font=font)
        rotated = label_image.rotate(90, expand=True)
        image.paste(rotated, (4, int((top + bottom - rotated.height) / 2)))
    return save_image_atomic(image, path)
