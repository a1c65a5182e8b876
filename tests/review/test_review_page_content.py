"""What the page shows, computed without a page: captions, the feedback table, the KID line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from defect_sample.review import page_content
from defect_sample.review.feedback import KidResult, summarize
from defect_sample.review.records import GenerationInfo, ReviewRecord, candidate_id
from defect_sample.review.session import Generation


def generation(number=1, prompt="a pit", concept=None, defect="pit") -> Generation:
    info = GenerationInfo(
        generation=number,
        source_image=Path("/n.png"),
        mask_source="drawn",
        defect_name=defect,
        base_model="builtin:tiny",
        seed=3,
        steps=2,
        guidance=20.0,
        candidates=3,
        size=(8, 8),
        concept=concept,
        prompt=None if concept else prompt,
        selection_metric="psnr",
        scores=(12.345, 9.5, 30.0),
        lfs_index=1,
    )
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:5, 2:5] = True
    return Generation(info, Image.new("RGB", (8, 8)), mask, [Image.new("RGB", (8, 8))] * 3)


def decide(gen: Generation, index: int, status: str, reason: str = "") -> ReviewRecord:
    record = ReviewRecord(
        candidate_id(gen.id, index),
        index,
        status,
        gen.info,
        "2026-01-01T00:00:00+00:00",
        reason,
        f"{gen.info.defect_name}_{gen.id}_{index}" if status == "accepted" else None,
    )
    gen.decisions[index] = record
    return record


def test_captions_show_score_lfs_pick_and_status():
    gen = generation()
    decide(gen, 0, "accepted")
    assert [page_content.caption(gen, k) for k in range(3)] == [
        "c0 12.3 accepted",
        "c1 9.5★ undecided",
        "c2 30 undecided",
    ]
    assert gen.undecided() == [1, 2]
    summary = page_content.candidate_summary(gen, 0)
    assert "**g00001-c0** · accepted → `defect/pit_1_0.png`" in summary and 'prompt "a pit"' in summary


def test_feedback_table_counts_by_prompt_and_concept_and_defect():
    a, b = generation(1, "a pit"), generation(2, concept="tile/crack", defect="crack")
    records = [
        decide(a, 0, "accepted"),
        decide(a, 1, "rejected"),
        decide(a, 2, "flagged", "blurry"),
        decide(b, 0, "accepted"),
        decide(b, 1, "accepted"),
    ]
    feedback = summarize(records)
    assert feedback.accepted_per_defect == {"crack": 2, "pit": 1}
    text = page_content.feedback_markdown(feedback)
    assert '| prompt "a pit" | 1 | 1 | 1 | 33% |' in text  # 1 of 3 decided, by hand
    assert "| concept tile/crack | 2 | 0 | 0 | 100% |" in text
    assert "`crack` 2, `pit` 1" in text
    assert page_content.feedback_markdown(summarize([])) == "No decisions yet."


def test_kid_line_says_which_features_it_used():
    line = page_content.kid_markdown(
        KidResult(mean=0.0123, std=0.0004, real_count=10, fake_count=4, features="random-network")
    )
    assert "KID × 10³ = **12.300** ± 0.400" in line and "4 accepted against 10 real" in line
    assert "offline stand-in" in line
