"""The Pillow line plot: a PNG of the asked size, one visible curve per series, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from defect_core.plotting import PALETTE, line_plot


def _colour_count(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(pixels == np.array(colour, dtype=np.uint8), axis=-1).sum())


def test_line_plot_writes_png_with_each_series_drawn(tmp_path):
    xs = np.linspace(0.0, 1.0, 50)
    series = {
        "flat low": (xs, np.zeros_like(xs)),
        "flat high": (xs, np.ones_like(xs)),
        "diagonal": (xs, xs),
    }
    path = line_plot(
        series, tmp_path / "sub" / "plot.png", title="T", xlabel="x", ylabel="y", size=(500, 400)
    )
    assert path == tmp_path / "sub" / "plot.png"
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (500, 400)
        pixels = np.asarray(im.convert("RGB"))
    # A legend swatch is about 20 px x 3 px; a curve across the plot is hundreds of pixels.
    for colour in PALETTE[:3]:
        assert _colour_count(pixels, colour) > 300
    assert _colour_count(pixels, PALETTE[3]) == 0
    # No temporary file is left beside the output.
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["plot.png"]


def test_curve_pixels_lie_where_the_data_are(tmp_path):
    xs = np.linspace(0.0, 1.0, 20)
    path = line_plot({"low": (xs, np.zeros_like(xs)), "high": (xs, np.ones_like(xs))}, tmp_path / "p.png")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    rows_low = np.flatnonzero(np.all(pixels == PALETTE[0], axis=-1).sum(axis=1) > 100)
    rows_high = np.flatnonzero(np.all(pixels == PALETTE[1], axis=-1).sum(axis=1) > 100)
    assert rows_low.size and rows_high.size
    # y grows upwards: the series at y = 1 is drawn above (smaller row index) the one at y = 0.
    assert rows_high.max() < rows_low.min()


def test_log_y_skips_non_positive_values(tmp_path):
    steps = np.arange(1, 101, dtype=float)
    loss = np.concatenate([[0.0], 10.0 / steps[1:]])
    path = line_plot({"loss": (steps, loss)}, tmp_path / "loss.png", log_y=True, size=(320, 240))
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.shape == (240, 320, 3)
    assert _colour_count(pixels, PALETTE[0]) > 100


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ({}, "empty"),
        ({"bad": ([0.0, 1.0], [0.0])}, "'bad'"),
        ({"nan": ([float("nan")], [float("nan")])}, "finite"),
    ],
)
def test_bad_series_are_rejected(tmp_path, series, message):
    with pytest.raises(ValueError, match=message):
        line_plot(series, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
