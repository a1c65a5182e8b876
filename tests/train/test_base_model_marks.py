"""The base model's random marks: seeded, in range, confined to what they paint, at the asked rate, of every
kind and tone, and made by code that the benchmark's defect painter does not share."""

from __future__ import annotations

import colorsys
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from defect_train.base_model import marks as marks_module
from defect_train.base_model.marks import MARK_KINDS, TONES, add_random_marks, mark_alpha, mark_colour


def _images(count: int = 8, size: int = 32) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_marks_are_seeded_in_range_and_leave_the_input_alone() -> None:
    images = _images()
    before = images.clone()
    a, coverage_a = add_random_marks(images, np.random.default_rng(3), probability=1.0)
    b, coverage_b = add_random_marks(images, np.random.default_rng(3), probability=1.0)
    assert torch.equal(images, before)  # a copy, not in place
    assert torch.equal(a, b) and torch.equal(coverage_a, coverage_b)
    assert a.min() >= -1 and a.max() <= 1
    assert coverage_a.shape == (8, 1, 32, 32) and coverage_a.min() >= 0 and coverage_a.max() <= 1
    changed = (a != images).any(dim=1)  # (B, H, W): where some channel was painted
    assert changed.flatten(1).any(dim=1).all()  # every image got a mark
    assert (changed.flatten(1).float().mean(dim=1) < 0.9).all()  # marks, not repaints of the whole image
    # the coverage is where the painting happened: nothing changed where it is 0
    assert not changed[coverage_a[:, 0] == 0].any()


def test_a_marked_pixel_is_a_blend_towards_one_colour() -> None:
    # one flat grey image: every painted pixel must lie on a segment from grey towards the mark's colour
    flat = torch.zeros(1, 3, 32, 32)
    for seed in range(6):
        marked, coverage = add_random_marks(flat, np.random.default_rng(seed), probability=1.0, max_marks=1)
        painted = coverage[0, 0] > 0
        assert painted.any()
        colours = marked[0][:, painted].T  # (P, 3) = alpha * colour
        # out = alpha * colour exactly, so colour = out / alpha is one and the same colour everywhere
        implied = colours / coverage[0, 0][painted][:, None]
        assert torch.allclose(implied, implied[:1].expand_as(implied), atol=1e-4)


def test_probability_sets_the_share_of_marked_images() -> None:
    images = _images(count=400, size=16)
    unchanged, none = add_random_marks(images, np.random.default_rng(0), probability=0.0)
    assert torch.equal(unchanged, images) and not none.any()
    _, coverage = add_random_marks(images, np.random.default_rng(0), probability=0.5)
    marked = coverage.flatten(1).amax(1) > 0
    assert 160 <= int(marked.sum()) <= 240  # binomial(400, 0.5): mean 200, sd 10
    with pytest.raises(ValueError, match="probability"):
        add_random_marks(images, np.random.default_rng(0), probability=1.5)
    with pytest.raises(ValueError, match="square"):
        add_random_marks(torch.zeros(1, 3, 8, 16), np.random.default_rng(0), probability=1.0)


def test_every_kind_paints_its_own_shape() -> None:
    rng = np.random.default_rng(5)
    size = 64
    areas = {kind: [] for kind in MARK_KINDS}
    opacities = {kind: [] for kind in MARK_KINDS}
    for kind in MARK_KINDS:
        for _ in range(40):
            alpha = mark_alpha(kind, size, rng)
            assert alpha.shape == (size, size) and alpha.min() >= 0 and alpha.max() <= 1
            areas[kind].append(float((alpha > 0.05).mean()))
            opacities[kind].append(float(alpha.max()))
    mean_area = {k: float(np.mean(v)) for k, v in areas.items()}
    # stains are the widest and translucent; speckles and strokes thin; blobs solid
    assert mean_area["stain"] > mean_area["blob"] > mean_area["stroke"]
    assert mean_area["speckles"] < mean_area["blob"]
    assert max(opacities["stain"]) <= 0.7 and min(opacities["blob"]) >= 0.8
    with pytest.raises(ValueError, match="unknown mark kind"):
        mark_alpha("hole", size, rng)


def test_colours_are_dark_light_and_coloured_in_equal_shares() -> None:
    rng = np.random.default_rng(0)
    tones, values, saturations = [], {t: [] for t in TONES}, {t: [] for t in TONES}
    for _ in range(900):
        tone, colour = mark_colour(rng)
        assert colour.shape == (3,) and colour.min() >= -1 and colour.max() <= 1
        h, s, v = colorsys.rgb_to_hsv(*((colour + 1) / 2))
        tones.append(tone)
        values[tone].append(v)
        saturations[tone].append(s)
    counts = {t: tones.count(t) for t in TONES}
    assert all(250 <= c <= 350 for c in counts.values()), counts  # binomial(900, 1/3): sd 14
    assert max(values["dark"]) <= 0.25 + 1e-6 and min(values["light"]) >= 0.8 - 1e-6
    assert min(saturations["coloured"]) >= 0.4 - 1e-6


def _functions_run(call) -> set[tuple[str, str]]:
    """(file, function) of every Python function that ``call()`` runs, by the interpreter's own profiler."""
    seen: set[tuple[str, str]] = set()

    def profile(frame, event, _arg):
        if event == "call":
            seen.add((frame.f_code.co_filename, frame.f_code.co_name))

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen


def test_marks_share_no_code_with_the_benchmark_defect_painter() -> None:
    """Issue 17: the base model's marks are not the benchmark's holes and scratches. Run both and compare what
    they execute: no function of this project is on both paths, and neither calls into the other's module."""
    from defect_core.builtin import demo, surface_strips

    image = np.full((64, 64, 3), 128, np.uint8)
    painter = _functions_run(
        lambda: [
            demo.paint_defect(image, d, np.random.default_rng(s), np.ones((64, 64), bool))
            for d in ("hole", "scratch", "stain")
            for s in range(5)
        ]
    )
    marker = _functions_run(
        lambda: [
            add_random_marks(_images(4, 64), np.random.default_rng(s), probability=1.0) for s in range(10)
        ]
    )
    project = str(Path(demo.__file__).parents[2])  # packages/*/src: this project's code, not libraries'
    ours = {
        f
        for f in painter | marker
        if f[0].startswith(project) or "defect_train" in f[0] or "defect_core" in f[0]
    }
    shared = (painter & marker) & ours
    assert not shared, shared
    assert not any(f[0] == marks_module.__file__ for f in painter)
    assert not any(f[0] in (demo.__file__, surface_strips.__file__) for f in marker)
    assert not any("defect_core" in f[0] for f in marker)  # no defect_core mask or shape generator at all
    assert any(f[0] == demo.__file__ for f in painter) and any(f[0] == marks_module.__file__ for f in marker)
