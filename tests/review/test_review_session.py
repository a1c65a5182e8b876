"""The review app through its Python API (no browser): the whole flow, resuming, interrupted writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from review_helpers import files_holding, masked_psnr_by_hand, pixels

from defect_core.images import load_mask
from defect_core.manifest import read_manifest
from defect_core.output_layout import GenerationWriter
from defect_sample.review.records import candidate_id
from defect_sample.review.review_log import ReviewLog
from defect_sample.review.session import RECOVERED_REASON, GenerationRequest

FAST = dict(candidates=3, steps=2)


def corner_box(session, normal="000.png"):
    """A rectangle through two clicked corners: pixels x 20..40, y 16..36 inclusive."""
    return session.region_from_points(normal, [(20, 16), (40, 36)])


def test_generate_accept_reject_flag_writes_only_the_accepted_item(make_session, normals):
    session = make_session()
    region = corner_box(session)
    expected = np.zeros((64, 64), dtype=bool)
    expected[16:37, 20:41] = True  # PIL's rectangle includes both corners
    assert np.array_equal(region, expected)

    steps = []
    gen = session.generate(
        GenerationRequest(
            normal="000.png",
            mask=region,
            mask_source="rectangle",
            prompt="a dark scratch",
            negative_prompt="clean",
            defect_name="scratch",
            seed=7,
            **FAST,
        ),
        on_step=lambda done, total: steps.append((done, total)),
    )
    assert steps == [(1, 2), (2, 2)]  # one UNet call per step: 3 candidates fit one batch
    info = gen.info
    assert (info.generation, info.seed, info.steps, info.guidance, info.candidates) == (1, 7, 2, 20.0, 3)
    assert info.prompt == "a dark scratch" and info.concept is None and info.size == (64, 64)
    # LFS scores are shown, not imposed: every candidate stays; the pick is the lowest masked PSNR, by hand
    by_hand = [masked_psnr_by_hand(c, gen.normal, gen.mask) for c in gen.candidates]
    assert np.allclose(info.scores, by_hand, atol=1e-6)
    assert info.lfs_index == int(np.argmin(by_hand))
    assert (session.out_dir / "review_pending" / "g00001" / "candidate_2.png").is_file()

    accepted = session.decide(1, 0, "accepted")
    rejected = session.decide(1, 1, "rejected", "looks like a stain")
    flagged = session.decide(1, 2, "flagged", "edge bleeds")
    out = session.out_dir

    assert accepted.item_id == "scratch_g00001_c0"
    records = read_manifest(out / "manifest.jsonl")
    assert [r.item_id for r in records] == ["scratch_g00001_c0"]
    record = records[0]
    assert record.image == out / "defect" / "scratch_g00001_c0.png"
    assert np.array_equal(pixels(record.image), pixels(gen.candidates[0]))
    assert np.array_equal(load_mask(record.mask), expected)
    assert np.unique(np.asarray(Image.open(record.mask))).tolist() == [0, 255]
    assert record.source_image == normals / "000.png" and record.mask_source == "rectangle"
    assert record.prompt == "a dark scratch" and record.defect_name == "scratch" and record.seed == 7
    assert record.candidate_index == 0 and record.scores == info.scores and record.selection_metric == "psnr"
    assert record.sampler["negative_prompt"] == "clean" and record.sampler["review"] == "g00001-c0"
    assert GenerationWriter(out).finished_item_ids() == {"scratch_g00001_c0"}  # as the CLI's resume sees it

    lines = [json.loads(line) for line in (out / "review.jsonl").read_text().splitlines()]
    assert [(d["candidate_id"], d["status"], d["reason"]) for d in lines] == [
        ("g00001-c0", "accepted", ""),
        ("g00001-c1", "rejected", "looks like a stain"),
        ("g00001-c2", "flagged", "edge bleeds"),
    ]
    assert lines[0]["item_id"] == "scratch_g00001_c0" and lines[1]["item_id"] is None
    assert lines[1]["generation"]["prompt"] == "a dark scratch" and lines[1]["generation"]["seed"] == 7
    assert lines[1]["generation"]["source_image"] == "../good/000.png"  # relative to the output folder
    assert all(d["time"].endswith("+00:00") for d in lines)
    assert ReviewLog(out).latest()["g00001-c1"] == rejected

    # the rejected candidate is nowhere on disk; the flagged one only in flagged/; nothing left pending
    assert files_holding(out, gen.candidates[1]) == []
    assert files_holding(out, gen.candidates[2]) == [out / "flagged" / "g00001-c2.png"]
    assert files_holding(out, gen.candidates[0]) == [record.image]
    assert not (out / "review_pending" / "g00001").exists()
    assert flagged.status == "flagged" and session.pending_ids() == []

    feedback = session.feedback()
    assert [(r.description, r.accepted, r.rejected, r.flagged) for r in feedback.rows] == [
        ('prompt "a dark scratch"', 1, 1, 1)
    ]
    assert feedback.rows[0].rate == pytest.approx(1 / 3) and feedback.accepted_per_defect == {"scratch": 1}


def test_concept_mode_uses_the_concept_and_its_defaults(make_session):
    session = make_session()
    assert list(session.concepts) == ["tile/crack"]
    assert session.defaults("tile/crack") == (50, 1.0) and session.defaults(None) == (
        30,
        20.0,
    )  # DefectFill, DIAG
    gen = session.generate(
        GenerationRequest(
            normal="001.png", mask=corner_box(session, "001.png"), concept="tile/crack", candidates=2, steps=2
        )
    )
    assert gen.info.concept == "tile/crack" and gen.info.prompt is None and gen.info.defect_name == "crack"
    assert gen.info.guidance == 1.0
    record = session.decide(gen.id, 1, "accepted")
    manifest = read_manifest(session.out_dir / "manifest.jsonl")
    assert record.item_id == "crack_g00001_c1" and manifest[0].concept == "tile/crack"
    assert manifest[0].sampler["prompt"] == "A photo of sks"  # DefectFill's defect-branch prompt


def test_restart_resumes_pending_candidates_numbering_and_lineage(make_session):
    first = make_session()
    gen = first.generate(GenerationRequest(normal="000.png", mask=corner_box(first), prompt="a dent", **FAST))
    first.decide(1, 1, "rejected")

    again = make_session()
    assert again.pending_ids() == [1]
    resumed = again.generations[1]
    assert resumed.undecided() == [0, 2] and resumed.status(1) == "rejected"
    assert resumed.candidates[1] is None  # a rejected candidate's pixels are not kept
    assert np.array_equal(pixels(resumed.candidates[2]), pixels(gen.candidates[2]))
    assert np.array_equal(resumed.mask, gen.mask)
    assert again.next_generation == 2

    child = again.generate(
        GenerationRequest(
            normal="000.png", mask=corner_box(again), prompt="a deeper dent", seed=1, parent=1, **FAST
        )
    )
    assert (child.id, child.info.parent) == (2, 1)
    again.decide(2, 0, "accepted")
    lines = [json.loads(line) for line in (again.out_dir / "review.jsonl").read_text().splitlines()]
    assert lines[-1]["generation"]["parent"] == 1
    with pytest.raises(ValueError, match="already rejected"):
        again.decide(1, 1, "accepted")


def test_an_accept_killed_after_the_manifest_line_is_recovered_on_restart(make_session, monkeypatch):
    session = make_session()
    gen = session.generate(
        GenerationRequest(normal="000.png", mask=corner_box(session), prompt="a pit", **FAST)
    )

    def killed(self, record):  # the process dies between the manifest line and the decision
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(ReviewLog, "append", killed)
        with pytest.raises(KeyboardInterrupt):
            session.decide(1, 0, "accepted")
    assert ReviewLog(session.out_dir).records() == []

    again = make_session()
    assert again.recovered == 1
    latest = ReviewLog(again.out_dir).latest()
    assert latest["g00001-c0"].status == "accepted" and latest["g00001-c0"].reason == RECOVERED_REASON
    assert again.generations[1].undecided() == [1, 2]
    assert [r.item_id for r in read_manifest(again.out_dir / "manifest.jsonl")] == ["defect_g00001_c0"]
    assert np.array_equal(
        pixels(again.out_dir / "defect" / "defect_g00001_c0.png"), pixels(gen.candidates[0])
    )


def test_an_accept_killed_before_the_manifest_line_leaves_the_candidate_pending(make_session, monkeypatch):
    session = make_session()
    session.generate(GenerationRequest(normal="000.png", mask=corner_box(session), prompt="a pit", **FAST))
    import defect_core.output_layout as layout

    def killed(manifest, record):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(layout, "append_record", killed)
        with pytest.raises(KeyboardInterrupt):
            session.decide(1, 0, "accepted")
    out = session.out_dir
    assert (out / "defect" / "defect_g00001_c0.png").is_file()  # image written, manifest line not

    again = make_session()
    assert (
        not (out / "defect" / "defect_g00001_c0.png").exists()
        and not (out / "mask" / "defect_g00001_c0.png").exists()
    )
    assert again.generations[1].undecided() == [0, 1, 2] and again.recovered == 0
    again.decide(1, 0, "accepted")
    assert [r.item_id for r in read_manifest(out / "manifest.jsonl")] == ["defect_g00001_c0"]


def test_a_torn_last_decision_line_is_dropped_and_the_next_one_starts_clean(make_session, caplog):
    session = make_session()
    session.generate(GenerationRequest(normal="000.png", mask=corner_box(session), prompt="a pit", **FAST))
    session.decide(1, 0, "rejected")
    log = session.out_dir / "review.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole + whole[: len(whole) // 2])  # a crash in the middle of the next append

    again = make_session()
    assert [r.candidate_id for r in again.decisions()] == ["g00001-c0"]
    assert "dropping an unreadable decision" in caplog.text
    again.decide(1, 1, "rejected")
    assert [r.candidate_id for r in ReviewLog(again.out_dir).records()] == ["g00001-c0", "g00001-c1"]


def test_kid_panel_compares_the_accepted_images_with_the_real_folder(make_session, tmp_path):
    from defect_metrics import RandomConvFeatures, extract_features, kid

    real = tmp_path / "real"
    real.mkdir()
    for i in range(3):
        Image.fromarray(np.full((64, 64, 3), 40 * i, dtype=np.uint8)).save(real / f"r{i}.png")
    session = make_session(real=real, kid_features="random-network")
    gen = session.generate(
        GenerationRequest(normal="000.png", mask=corner_box(session), prompt="a pit", **FAST)
    )
    with pytest.raises(ValueError, match="at least 2 accepted"):
        session.kid()
    session.decide(gen.id, 0, "accepted")
    session.decide(gen.id, 1, "rejected")
    session.decide(gen.id, 2, "accepted")
    result = session.kid()
    accepted = [session.out_dir / "defect" / f"defect_g00001_c{k}.png" for k in (0, 2)]
    assert sorted(session.accepted_images()) == accepted
    net = RandomConvFeatures()
    reference = kid(
        extract_features(sorted(real.iterdir()), net, image_size=128, progress=False),
        extract_features(accepted, net, image_size=128, progress=False),
    )
    assert (result.real_count, result.fake_count, result.features) == (3, 2, "random-network")
    assert result.mean == pytest.approx(reference.mean) and result.std == pytest.approx(reference.std)


def test_candidate_ids_name_generation_and_index():
    assert candidate_id(12, 3) == "g00012-c3"
