"""Bad input to the review app: every refusal names the problem, and nothing on disk changes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from review_helpers import snapshot

from defect_core.errors import InputFileError
from defect_sample.review.config import ReviewConfig
from defect_sample.review.folders import PathOutsideError
from defect_sample.review.session import GenerationRequest


@pytest.fixture
def session(make_session):
    return make_session(max_upload_mb=0.02, max_upload_side=128)  # 20 KiB, 128 px: small enough to exceed


def box(y0=10, x0=10, y1=30, x1=30, size=64) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def unchanged(session):
    """Context: the output folder holds exactly the same files before and after."""

    class Check:
        def __enter__(self):
            self.before = snapshot(session.out_dir)

        def __exit__(self, *exc):
            assert snapshot(session.out_dir) == self.before
            return False

    return Check()


def test_paths_outside_the_started_folders_are_refused(session, normals, tmp_path):
    secret = tmp_path / "secret.png"
    Image.new("RGB", (64, 64)).save(secret)
    os.symlink(secret, normals / "link.png")  # a link inside the folder that points outside it
    with unchanged(session):
        for name in ("../secret.png", str(secret), "link.png", "upload/../../secret.png"):
            with pytest.raises(PathOutsideError, match="outside the folders this app was started with"):
                session.normal_path(name)
        with pytest.raises(InputFileError, match="not one of the normal images"):
            session.normal_path("missing.png")
        with pytest.raises(PathOutsideError):
            session.folders.writable(tmp_path / "elsewhere.png")
        with pytest.raises(PathOutsideError):
            session.generate(GenerationRequest(normal="../secret.png", mask=box(), prompt="x"))
    assert session.normal_path("000.png") == normals / "000.png"


def test_uploads_that_are_not_images_too_large_or_too_wide_are_refused(session, tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture")
    heavy = tmp_path / "heavy.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(heavy)
    assert heavy.stat().st_size > 0.02 * 1024 * 1024
    wide = tmp_path / "wide.png"
    Image.new("RGB", (200, 20)).save(wide)
    with unchanged(session):
        with pytest.raises(InputFileError, match=r"notes.png: cannot be read as an image"):
            session.upload_normal(not_image)
        with pytest.raises(
            InputFileError,
            match=r"heavy.png: is 42.\d KiB; uploads are limited to images up to "
            r"20.5 KiB and 128 px a side",
        ):
            session.upload_normal(heavy)
        with pytest.raises(InputFileError, match=r"wide.png: is 200x20 px; uploads are limited"):
            session.upload_normal(wide)
        with pytest.raises(InputFileError, match="notes.png: cannot be read"):
            session.region_from_upload("000.png", not_image)
    assert session.normal_names() == ["000.png", "001.png"]


def test_an_uploaded_normal_image_is_kept_in_the_output_folder_and_offered(session, tmp_path):
    upload = tmp_path / "My Part.jpg"
    Image.new("RGB", (48, 40), (120, 30, 30)).save(upload)
    name = session.upload_normal(upload, "My Part.jpg")
    assert name.startswith("upload/my-part-") and name in session.normal_names()
    assert session.load_normal(name).size == (48, 40)
    assert session.normal_path(name).parent == session.out_dir / "uploads"


def test_masks_of_another_size_empty_or_full_are_refused(session, tmp_path):
    small = tmp_path / "small_mask.png"
    Image.fromarray((box(4, 4, 12, 12, size=32) * 255).astype(np.uint8)).save(small)
    empty = tmp_path / "empty_mask.png"
    Image.new("L", (64, 64), 0).save(empty)
    full = tmp_path / "full_mask.png"
    Image.new("L", (64, 64), 255).save(full)
    good = tmp_path / "good_mask.png"
    Image.fromarray((box() * 255).astype(np.uint8)).save(good)
    with unchanged(session):
        with pytest.raises(InputFileError, match="small_mask.png: mask is 32x32 px but the image is 64x64"):
            session.region_from_upload("000.png", small)
        with pytest.raises(InputFileError, match="empty_mask.png: mask is empty"):
            session.region_from_upload("000.png", empty)
        with pytest.raises(InputFileError, match="full_mask.png: mask covers the whole image"):
            session.region_from_upload("000.png", full)
        with pytest.raises(InputFileError, match="mask is 32x32 .* but its image is 64x64"):
            session.generate(GenerationRequest(normal="000.png", mask=box(size=32), prompt="a pit"))
        with pytest.raises(InputFileError, match="mask is empty"):
            session.generate(
                GenerationRequest(normal="000.png", mask=np.zeros((64, 64), bool), prompt="a pit")
            )
        with pytest.raises(InputFileError, match="the drawing is 32x32 px but the image is 64x64"):
            session.region_from_layers("000.png", [np.zeros((32, 32, 4), np.uint8)])
        with pytest.raises(InputFileError, match="click at least two corners"):
            session.region_from_points("000.png", [(3, 3)])
    assert np.array_equal(session.region_from_upload("000.png", good), box())


def test_requests_that_cannot_be_generated_are_refused_before_anything_runs(session):
    with unchanged(session):
        for request, problem in [
            (GenerationRequest(normal="000.png", mask=box(), prompt="   "), "write a prompt"),
            (GenerationRequest(normal="000.png", mask=box(), concept="tile/scratch"), "no loaded concept"),
            (GenerationRequest(normal="000.png", mask=box(), prompt="x", candidates=0), "candidates must be"),
            (
                GenerationRequest(normal="000.png", mask=box(), prompt="x", candidates=17),
                "candidates must be",
            ),
            (GenerationRequest(normal="000.png", mask=box(), prompt="x", guidance=-1.0), "guidance >= 0"),
            (GenerationRequest(normal="000.png", mask=box(), prompt="x", seed=-1), "seed must be"),
            (GenerationRequest(normal="000.png", mask=box(), prompt="x", parent=3), "parent generation 3"),
        ]:
            with pytest.raises(ValueError, match=problem):
                session.generate(request)
    assert session.next_generation == 1


def test_decisions_that_make_no_sense_are_refused(session):
    session.generate(GenerationRequest(normal="000.png", mask=box(), prompt="a pit", candidates=2, steps=1))
    with unchanged(session):
        with pytest.raises(ValueError, match="a flag needs a reason"):
            session.decide(1, 0, "flagged", "  ")
        with pytest.raises(ValueError, match="status must be one of"):
            session.decide(1, 0, "maybe")
        with pytest.raises(ValueError, match="candidates 0..1, not 2"):
            session.decide(1, 2, "accepted")
        with pytest.raises(ValueError, match="generation 9 is not pending"):
            session.decide(9, 0, "accepted")
        with pytest.raises(ValueError, match="no folder of real defect images"):
            session.kid()


def test_config_refuses_unusable_settings(tmp_path):
    base = dict(normals=tmp_path, out=tmp_path / "out", base_model="builtin:tiny")
    for changes, problem in [
        (dict(base_model=None), "without --concept, name the base model"),
        (dict(normals=None), "--normals DIR"),
        (dict(auth="nopassword"), "USER:PASS"),
        (dict(auth=":secret"), "USER:PASS"),
        (dict(max_upload_mb=0), "max_upload_mb"),
        (dict(dataset="mvtec"), "dataset 'mvtec' needs --dataset-root"),
        (dict(dataset="mvtec", dataset_root=tmp_path), "--dataset needs --object-name"),
        (dict(resolution=60), "multiple of 8"),
    ]:
        with pytest.raises(ValueError, match=problem):
            ReviewConfig(**{**base, **changes})
    config = ReviewConfig(**base, auth="me:se:cret", host="0.0.0.0")
    assert config.auth_pair == ("me", "se:cret") and not config.is_local
    assert ReviewConfig(**base).is_local and ReviewConfig(**base).upload_limit_bytes == 16 * 1024 * 1024


def test_missing_folders_are_named_at_start(make_session, tmp_path):
    for changes in (dict(real=tmp_path / "no_real"), dict(normals=tmp_path / "no_good")):
        with pytest.raises(InputFileError, match="no_(real|good): folder does not exist"):
            make_session(**changes)
    assert not (tmp_path / "out").exists()
