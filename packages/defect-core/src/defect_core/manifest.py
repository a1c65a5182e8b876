"""``manifest.jsonl``: an append-only log of ``SampleRecord``s that survives a crash.

Each record is one line, appended with a single ``write`` and fsynced. A crash mid-write can leave only
the last line torn; :func:`read_manifest` detects such a line (no trailing newline, or invalid JSON at the
end) and drops it with a warning, so a resumed job redoes that item instead of failing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from defect_core.sample_record import SampleRecord

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"


def append_record(manifest: str | Path, record: SampleRecord) -> None:
    """Append one record (paths relative to the manifest's folder) as a single line, then fsync."""
    manifest = Path(manifest)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    line = record.to_json(relative_to=manifest.parent) + "\n"
    with open(manifest, "ab") as fh:
        # a previous crash may have left a torn line without newline: start ours on a fresh line
        if fh.tell() > 0:
            with open(manifest, "rb") as check:
                check.seek(-1, os.SEEK_END)
                if check.read(1) != b"\n":
                    fh.write(b"\n")
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(manifest: str | Path) -> list[SampleRecord]:
    """All intact records (paths made absolute against the manifest's folder); [] if there is no file.

    A torn or invalid line is dropped with a warning naming the file and line; only the last line can be
    torn by a crash, so an invalid line elsewhere is also reported but does not stop the read.
    """
    manifest = Path(manifest)
    if not manifest.exists():
        return []
    base = manifest.parent.resolve()
    records = []
    raw_lines = manifest.read_bytes().split(b"\n")
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(SampleRecord.from_dict(json.loads(raw.decode("utf-8")), base=base))
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            where = "torn last line" if number >= len(raw_lines) - 1 else "invalid line"
            logger.warning("%s:%d: dropping %s (%s)", manifest, number, where, exc)
    return records
