"""manifest.jsonl: append-only, one record a line; a torn last line is dropped with a warning."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from defect_core.manifest import MANIFEST_NAME, append_record, read_manifest
from defect_core.sample_record import SampleRecord


def make_record(out: Path, i: int) -> SampleRecord:
    return SampleRecord(
        item_id=f"item_{i:04d}",
        image=out / "defect" / f"item_{i:04d}.png",
        mask=out / "mask" / f"item_{i:04d}.png",
        source_image=out.parent / "good" / f"{i:03d}.png",
        mask_source="random",
        defect_name="scratch",
        seed=i,
        base_model="builtin:tiny",
        concept="bottle/scratch",
        scores=(0.5, 0.25),
        candidate_index=0,
        sampler={"steps": 50},
    )


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return tmp_path / "out" / MANIFEST_NAME


def test_missing_manifest_reads_as_empty(manifest: Path) -> None:
    assert read_manifest(manifest) == []


def test_append_then_read(manifest: Path) -> None:
    out = manifest.parent
    records = [make_record(out, i) for i in range(3)]
    for r in records:
        append_record(manifest, r)
    assert read_manifest(manifest) == records
    lines = manifest.read_text().splitlines()
    assert len(lines) == 3
    assert manifest.read_bytes().endswith(b"\n")
    # paths on disk are relative to the manifest's folder
    first = json.loads(lines[0])
    assert first["image"] == "defect/item_0000.png"
    assert first["source_image"] == "../good/000.png"


def test_torn_last_line_is_dropped_with_a_warning(manifest: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = manifest.parent
    append_record(manifest, make_record(out, 0))
    append_record(manifest, make_record(out, 1))
    # a crash in the middle of the third append leaves half a line without its newline
    torn = make_record(out, 2).to_json(relative_to=out)
    with open(manifest, "ab") as fh:
        fh.write(torn[: len(torn) // 2].encode())

    with caplog.at_level(logging.WARNING, logger="defect_core.manifest"):
        records = read_manifest(manifest)
    assert [r.item_id for r in records] == ["item_0000", "item_0001"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(manifest) in warnings[0].getMessage()
    assert ":3:" in warnings[0].getMessage() and "torn last line" in warnings[0].getMessage()

    # the next append starts on a fresh line and is read back; the torn fragment stays dropped
    append_record(manifest, make_record(out, 3))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="defect_core.manifest"):
        records = read_manifest(manifest)
    assert [r.item_id for r in records] == ["item_0000", "item_0001", "item_0003"]
    assert records[2] == make_record(out, 3)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_line_torn_inside_a_multibyte_character(manifest: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = manifest.parent
    append_record(manifest, make_record(out, 0))
    with open(manifest, "ab") as fh:
        fh.write('{"item_id": "é'.encode()[:-1])  # half of a two-byte UTF-8 character
    with caplog.at_level(logging.WARNING, logger="defect_core.manifest"):
        assert [r.item_id for r in read_manifest(manifest)] == ["item_0000"]
    assert any("torn last line" in r.getMessage() for r in caplog.records)


def test_invalid_line_in_the_middle_is_reported_and_skipped(
    manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = manifest.parent
    append_record(manifest, make_record(out, 0))
    with open(manifest, "ab") as fh:
        fh.write(b'{"item_id": "x"}\n')  # valid JSON, but not a SampleRecord
    append_record(manifest, make_record(out, 1))
    with caplog.at_level(logging.WARNING, logger="defect_core.manifest"):
        assert [r.item_id for r in read_manifest(manifest)] == ["item_0000", "item_0001"]
    messages = [r.getMessage() for r in caplog.records]
    assert any(":2:" in m and "invalid line" in m for m in messages), messages
