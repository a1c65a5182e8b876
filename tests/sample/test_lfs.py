"""Low-Fidelity Selection: masked PSNR / SSIM / LPIPS against hand-computed references, and the choice."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from sample_helpers import box_mask, random_image

from defect_core.errors import InputFileError, MissingWeightsError
from defect_sample.lpips_scorer import (
    LPIPS_MIN_SIZE,
    LpipsScorer,
    build_lpips,
    load_alexnet_backbone,
    lpips_crop_box,
)
from defect_sample.masked_metrics import PSNR_MAX_DB, masked_psnr, masked_ssim
from defect_sample.selection import CandidateSelector, create_selector, images_to_unit_tensor

ALEXNET_CHECKPOINT = "alexnet-owt-7be5be79.pth"  # torchvision's file name, as written in its model table


def unit(images) -> torch.Tensor:
    return images_to_unit_tensor(images)


def test_masked_psnr_is_the_hand_formula_over_the_mask_only():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    cand = ref.copy()
    mask = box_mask(2, 3, 7, 11, size=16)
    cand[mask] = np.clip(cand[mask].astype(int) + rng.integers(-40, 40, cand[mask].shape), 0, 255)
    cand[~mask] = 255 - cand[~mask]  # huge differences outside the mask must not count
    mse = np.mean(((cand[mask].astype(float) - ref[mask]) / 255.0) ** 2)
    got = masked_psnr(unit([Image.fromarray(cand)]), unit([Image.fromarray(ref)]), mask)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(10 * math.log10(1 / mse), rel=1e-6)
    same = masked_psnr(unit([Image.fromarray(ref)]), unit([Image.fromarray(ref)]), mask)
    assert same[0] == PSNR_MAX_DB


def reference_ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Brute-force SSIM (Wang et al.): 11 x 11 Gaussian window (sigma 1.5), numpy reflect padding, per
    channel, pixel by pixel."""
    r = 5
    g = np.exp(-((np.arange(11) - r) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    out = np.zeros(a.shape, dtype=np.float64)
    for c in range(a.shape[2]):
        pa, pb = np.pad(a[:, :, c], r, mode="reflect"), np.pad(b[:, :, c], r, mode="reflect")
        for y in range(a.shape[0]):
            for x in range(a.shape[1]):
                wa, wb = pa[y : y + 11, x : x + 11], pb[y : y + 11, x : x + 11]
                ma, mb = (w * wa).sum(), (w * wb).sum()
                va, vb = (w * wa * wa).sum() - ma**2, (w * wb * wb).sum() - mb**2
                cov = (w * wa * wb).sum() - ma * mb
                c1, c2 = 0.01**2, 0.03**2
                out[y, x, c] = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return out


@pytest.mark.parametrize("box", [(4, 5, 12, 20), (0, 0, 6, 9), (20, 18, 24, 24)])  # inside, corner, edge
def test_masked_ssim_equals_a_brute_force_map_averaged_over_the_mask(box):
    a = np.asarray(random_image(1, 24), dtype=np.float64) / 255
    b = np.clip(a + np.random.default_rng(2).normal(0, 0.1, a.shape), 0, 1)
    mask = box_mask(*box, size=24)
    expected = reference_ssim_map(a, b)[mask].mean()
    got = masked_ssim(
        torch.from_numpy(b).permute(2, 0, 1)[None].float(),
        torch.from_numpy(a).permute(2, 0, 1)[None].float(),
        mask,
    )
    assert got[0] == pytest.approx(expected, abs=2e-6)


def test_lpips_crop_box_grows_the_bbox_to_the_minimum_inside_the_image():
    mask = box_mask(2, 50, 6, 60, size=64)
    y0, x0, y1, x1 = lpips_crop_box(mask)
    assert (y1 - y0, x1 - x0) == (LPIPS_MIN_SIZE, LPIPS_MIN_SIZE)
    assert 0 <= y0 <= 2 and y1 >= 6 and x0 <= 50 and x1 == 64  # shifted to stay inside, still covers the bbox
    big = box_mask(5, 5, 50, 45, size=64)
    assert lpips_crop_box(big) == (5, 5, 50, 45)
    assert lpips_crop_box(box_mask(1, 1, 3, 3, size=16)) == (0, 0, 16, 16)  # image smaller than the minimum


@pytest.fixture(scope="module")
def random_lpips():
    """LPIPS with a random AlexNet: built without any download (asserted in the test below)."""
    return build_lpips()


def test_random_backbone_lpips_builds_without_downloading(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("LPIPS tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    model = build_lpips()
    assert not any(tmp_path.rglob("*"))  # nothing fetched into the (empty) hub cache
    x = torch.zeros(1, 3, 32, 32)
    assert model(x, x).item() == 0.0


def test_lpips_scores_only_the_masked_region(random_lpips):
    scorer = LpipsScorer(random_lpips)
    ref = random_image(3)
    mask = box_mask(10, 12, 20, 30)
    arr = np.asarray(ref).copy()
    inside, outside = arr.copy(), arr.copy()
    inside[mask] = 255 - inside[mask]
    outside[~mask] = 255 - outside[~mask]
    scores = scorer(unit([Image.fromarray(inside), Image.fromarray(outside), ref]), unit([ref]), mask)
    assert (
        scores[0] > 0.01
        and scores[1] == pytest.approx(0.0, abs=1e-6)
        and scores[2] == pytest.approx(0.0, abs=1e-6)
    )
    # equals LPIPS computed by hand on the grown crop, in [-1, 1]
    y0, x0, y1, x1 = lpips_crop_box(mask)
    to = lambda a: torch.from_numpy(a[y0:y1, x0:x1].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]  # noqa: E731
    with torch.no_grad():
        expected = random_lpips(to(inside), to(arr)).item()
    assert scores[0] == pytest.approx(expected, rel=1e-5)


def test_missing_alexnet_weights_name_the_file_and_where_it_goes(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingWeightsError) as info:
        create_selector("lpips")
    expected = tmp_path / "torch" / "hub" / "checkpoints" / ALEXNET_CHECKPOINT
    assert info.value.path == expected
    assert str(expected) in str(info.value) and "--select psnr" in str(info.value)
    assert create_selector("psnr").name == "psnr"  # needs no weights at all


def test_alexnet_backbone_is_read_from_the_hub_cache(monkeypatch, tmp_path):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    alexnet = torchvision.models.alexnet(weights=None)
    checkpoint = tmp_path / "hub" / "checkpoints" / ALEXNET_CHECKPOINT
    checkpoint.parent.mkdir(parents=True)
    torch.save(alexnet.state_dict(), checkpoint)
    model = build_lpips()
    assert load_alexnet_backbone(model) == checkpoint
    torch.testing.assert_close(model.net.slice1[0].weight, alexnet.features[0].weight, atol=0, rtol=0)
    torch.testing.assert_close(
        model.net.slice5._modules["10"].bias, alexnet.features[10].bias, atol=0, rtol=0
    )

    broken = tmp_path / "broken.pth"
    torch.save({"classifier.1.weight": torch.zeros(3)}, broken)
    with pytest.raises(InputFileError, match=f"{broken}.*not the torchvision checkpoint of this LPIPS trunk"):
        load_alexnet_backbone(build_lpips(), broken)


@pytest.mark.parametrize(("metric", "keep"), [("psnr", "min"), ("ssim", "min")])
def test_selection_keeps_the_candidate_with_the_largest_masked_distance(metric, keep):
    normal = random_image(5)
    mask = box_mask(16, 16, 40, 48)
    base = np.asarray(normal).astype(np.int16)
    noise = np.random.default_rng(6).normal(0, 1, base.shape)
    # candidate k: masked region perturbed by strength s_k; outside perturbed by a large, constant amount
    strengths = [10, 60, 5, 30]
    candidates = []
    for s in strengths:
        arr = base.copy()
        arr[mask] = base[mask] + (s * noise[mask]).astype(np.int16)
        arr[~mask] = base[~mask] + (80 * noise[~mask]).astype(np.int16)
        candidates.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    selection = create_selector(metric)(candidates, normal, mask)
    assert create_selector(metric).keep == keep
    assert selection.index == int(np.argmax(strengths))
    assert len(selection.scores) == 4
    assert np.argsort(selection.scores).tolist() == np.argsort(strengths)[::-1].tolist()


def test_lpips_selection_keeps_the_highest_and_none_keeps_the_first(random_lpips):
    normal, mask = random_image(7), box_mask(8, 8, 40, 40)
    candidates = [random_image(8), normal, random_image(9)]
    lpips_selector = CandidateSelector("lpips", "max", LpipsScorer(random_lpips))
    selection = lpips_selector(candidates, normal, mask)
    assert selection.scores[1] == pytest.approx(0.0, abs=1e-6)
    assert selection.index == int(np.argmax(selection.scores)) != 1
    assert create_selector("none")(candidates, normal, mask).index == 0
    assert create_selector("none")(candidates, normal, mask).scores == ()
    with pytest.raises(ValueError, match="available: lpips, none, psnr, ssim"):
        create_selector("fid")
