"""Atomic writes: a failed write leaves the old file as it was and no temporary file behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defect_core.atomic import (
    atomic_path,
    save_image_atomic,
    write_bytes_atomic,
    write_text_atomic,
    write_with_atomic,
)


class Boom(RuntimeError):
    pass


def folder_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_create_parents_and_replace(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "f.txt"
    write_text_atomic(path, "first é")
    assert path.read_text(encoding="utf-8") == "first é"
    write_bytes_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert folder_listing(path.parent) == ["f.txt"]


def test_writer_that_raises_leaves_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"old content")

    def writer(fh) -> None:
        fh.write(b"new content that must never be seen")
        raise Boom("disk on fire")

    with pytest.raises(Boom):
        write_with_atomic(path, writer)
    assert path.read_bytes() == b"old content"
    assert folder_listing(tmp_path) == ["f.bin"]


def test_writer_that_raises_creates_nothing_when_there_was_no_file(tmp_path: Path) -> None:
    def writer(fh) -> None:
        fh.write(b"partial")
        raise Boom

    with pytest.raises(Boom):
        write_with_atomic(tmp_path / "new.bin", writer)
    assert folder_listing(tmp_path) == []


def test_atomic_path_context_cleans_up_on_error(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("old")
    with pytest.raises(Boom), atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_text("half")
        raise Boom
    assert path.read_text() == "old"
    assert folder_listing(tmp_path) == ["x.txt"]


def test_keyboard_interrupt_also_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("old")

    def writer(fh) -> None:
        fh.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_with_atomic(path, writer)
    assert path.read_text() == "old"
    assert folder_listing(tmp_path) == ["x.txt"]


def test_save_image_atomic_writes_png_whatever_the_temp_name(tmp_path: Path) -> None:
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    path = save_image_atomic(Image.fromarray(pixels), tmp_path / "img.png")
    with Image.open(path) as im:
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), pixels)
    assert folder_listing(tmp_path) == ["img.png"]


def test_failing_image_save_keeps_old_image(tmp_path: Path) -> None:
    path = tmp_path / "img.png"
    Image.new("RGB", (3, 3), (1, 2, 3)).save(path)
    before = path.read_bytes()
    with pytest.raises((KeyError, ValueError, OSError)):
        save_image_atomic(Image.new("RGB", (3, 3)), path, format="NOT-A-FORMAT")
    assert path.read_bytes() == before
    assert folder_listing(tmp_path) == ["img.png"]


def test_temporary_names_map_back_to_their_target(tmp_path: Path) -> None:
    from defect_core.atomic import temp_path_for, temp_target

    target = tmp_path / "defect" / "crack_00001.png"
    assert temp_path_for(target, 4242) == tmp_path / "defect" / ".crack_00001.png.tmp-4242"
    assert temp_target(temp_path_for(target, 4242)) == target
    assert temp_target(tmp_path / ".preview.png.tmp-7") == tmp_path / "preview.png"
    for other in (
        "preview.png",
        ".preview.png.tmp-",
        ".preview.png.tmp-12.bak",
        "x.png.tmp-3",
        ".notes.tmp",
        ".preview.png.tmp-ab12",
    ):
        assert temp_target(tmp_path / other) is None, other
    with atomic_path(target) as tmp:  # the writer uses that name
        assert temp_target(tmp) == target
        tmp.write_bytes(b"x")
