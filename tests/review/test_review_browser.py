"""The review page in a real headless browser (the system's Chromium, driven by Playwright) on builtin:tiny:
draw a region, write a prompt, generate, accept one candidate and reject another by key, then check the
files. The test takes the README's screenshots into docs/review/.

CI installs Chromium (.ci/run), so there a missing browser fails this test; on a developer machine without
it (and without $CI) the test is skipped, saying so.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from review_helpers import files_holding, pixels, snapshot

from defect_core.atomic import save_image_atomic
from defect_core.images import load_mask
from defect_core.manifest import read_manifest
from defect_core.masks import mask_bbox

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "review"
SCREENSHOT_WIDTH = 820
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str:
    """The system's Chromium; a failure under CI (which installs it), a skip on a machine without it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(
                "Chromium is not installed, but CI must run the browser test (.ci/run installs it: "
                "apt-get install chromium)"
            )
        pytest.skip("no system Chromium here (apt-get install chromium); CI installs it and runs this test")
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def test_a_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser test"):
        find_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no system Chromium"):
        find_chromium()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def message_contains(page, text: str, timeout_ms: int = 30_000) -> str:
    page.wait_for_function(
        "t => (document.querySelector('#review-message')?.innerText || '').includes(t)",
        arg=text,
        timeout=timeout_ms,
    )
    return page.inner_text("#review-message")


def save_screenshot(page, name: str) -> None:
    """A full-page screenshot, shrunk and reduced to 64 colours so that the README's pictures stay small."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    height = round(shot.height * SCREENSHOT_WIDTH / shot.width)
    small = shot.resize((SCREENSHOT_WIDTH, height), Image.Resampling.LANCZOS).quantize(colors=64)
    save_image_atomic(small, SCREENSHOTS / name)


# Gradio's queue calls pandas options that pandas 3 deprecates; not ours to fix
@pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
def test_review_page_in_a_real_browser(chromium, make_session, tmp_path):
    from playwright.sync_api import sync_playwright

    from defect_sample.review.app import build_review_app, launch_review_app

    started = time.perf_counter()
    session = make_session(port=free_port(), concept=())
    demo = build_review_app(session)
    launch_review_app(demo, session.config, block=False, quiet=True)
    url = f"http://127.0.0.1:{session.config.port}/"
    outside: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 1300})

            def only_this_server(route):
                if route.request.url.startswith(url):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_this_server)
            page.goto(url)
            message_contains(page, "Ready")
            canvas = page.locator("#review-editor canvas").first
            canvas.wait_for()
            page.wait_for_timeout(500)  # the editor draws its background
            save_screenshot(page, "1-empty.png")

            # 1. draw: a diagonal stroke through the middle of the picture
            box = canvas.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(cx - 40, cy - 40)
            page.mouse.down()
            page.mouse.move(cx + 40, cy + 40, steps=3)
            page.mouse.up()
            # 2. describe; fast settings in the advanced panel
            page.fill("#review-prompt textarea", "a dark scratch")
            page.get_by_text("Advanced settings").click()
            page.fill("#review-steps input", "2")
            page.locator("#review-steps input").press("Tab")
            page.fill("#review-candidates input[type=number]", "2")
            page.locator("#review-candidates input[type=number]").press("Tab")
            # 3. generate
            page.click("#review-generate")
            text = message_contains(page, "Generation g00001", timeout_ms=60_000)
            assert "2 candidate(s) at 64x64 px" in text
            page.wait_for_function(
                "() => { const imgs = [...document.querySelectorAll('#review-gallery img')];"
                " return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); }"
            )
            page.wait_for_function(
                "() => { const i = document.querySelector('#review-detail img');"
                " return i && i.complete && i.naturalWidth > 0; }"
            )
            save_screenshot(page, "2-candidates.png")
            # 4. review: accept with the button, reject with the keyboard shortcut
            page.click("#review-accept")
            assert "g00001-c0 accepted → defect/defect_g00001_c0.png" in message_contains(page, "accepted")
            page.locator("h2").first.click()  # focus outside any text field
            page.keyboard.press("r")
            message_contains(page, "g00001-c1 rejected")
            page.wait_for_function(
                "() => (document.querySelector('#review-feedback')?.innerText || '').includes('50%')"
            )
            save_screenshot(page, "3-decided.png")

            # a mask of another size: a message in the page, nothing written
            before = snapshot(session.out_dir)
            wrong = tmp_path / "wrong_size_mask.png"
            Image.new("L", (32, 32), 255).save(wrong)
            page.get_by_text("Other ways to set the region").click()
            page.locator("[data-testid='Upload a mask-upload-button']").set_input_files(str(wrong))
            assert "mask is 32x32 px but the image is 64x64" in message_contains(page, "Not done")
            assert snapshot(session.out_dir) == before
            browser.close()
        # the server hands out no file of the folders it was started with
        for path in (session.normals_dir / "000.png", session.out_dir / "defect" / "defect_g00001_c0.png"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10)
            assert refused.value.code == 403
    finally:
        demo.close()
    elapsed = time.perf_counter() - started

    out = session.out_dir
    gen = session.generations[1]
    records = read_manifest(out / "manifest.jsonl")
    assert [r.item_id for r in records] == ["defect_g00001_c0"]
    assert records[0].prompt == "a dark scratch" and records[0].mask_source == "drawn"
    assert np.array_equal(pixels(records[0].image), pixels(gen.candidates[0]))
    drawn = load_mask(records[0].mask)
    y0, x0, y1, x1 = mask_bbox(drawn)  # the stroke crosses the middle of the 64 px picture
    assert drawn[32, 32] and 0 < drawn.mean() < 0.25 and y0 > 8 and x0 > 8 and y1 < 56 and x1 < 56
    decisions = [json.loads(line) for line in (out / "review.jsonl").read_text().splitlines()]
    assert [(d["candidate_id"], d["status"]) for d in decisions] == [
        ("g00001-c0", "accepted"),
        ("g00001-c1", "rejected"),
    ]
    assert files_holding(out, gen.candidates[1]) == []  # the rejected one is nowhere else
    assert sorted(p.name for p in (out / "defect").iterdir()) == ["defect_g00001_c0.png"]

    assert outside == []  # the page asked nothing of any other server
    for name in ("1-empty.png", "2-candidates.png", "3-decided.png"):
        assert (SCREENSHOTS / name).stat().st_size < 400_000
    print(f"browser test: {elapsed:.1f} s from server start to the last check")
