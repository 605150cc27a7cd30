"""End to end: the course results page, built from the committed results, in headless Chromium.

Builds ``summary.html`` from ``results/*.json`` and ``results/figures/`` (what is committed), opens it in
Debian's ``chromium`` through Playwright (as the capstone's browser test does) and checks what a person
sees: the headline section first and visible, one row per headline of ``data/results_page.json`` with
a status, the story plots rendered, and the raw keys collapsed below until clicked. It takes a
screenshot; with ``GENAI_LAB_RECORD_SCREENSHOT=1`` it is saved as ``docs/results_screenshot.png``.
Without Chromium or Playwright the test is skipped with the fix, except on CI (``$CI`` set).
"""

from __future__ import annotations

import os
from pathlib import Path

from genai_lab.course import write_summary
from genai_lab.course_headlines import FAST_MODE, MET, NO_BAR, NOT_A_NUMBER, NOT_MET, NOT_RECORDED, load_spec
from genai_lab.paths import repo_root

RECORD_ENV = "GENAI_LAB_RECORD_SCREENSHOT"


def _shrink_png(path: Path) -> None:
    """A 64-colour palette, as the capstone's screenshot: a few tens of kB in docs/."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def test_results_page_opens_with_the_headlines_in_a_real_browser(browser, tmp_path):
    page_path = write_summary(out=tmp_path)
    spec = load_spec()
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(page_path.as_uri())

    # the headline section is there, visible, and comes before everything else
    headlines = page.locator("#headlines")
    assert headlines.is_visible()
    assert page.locator("h1").inner_text() == spec.title
    top = headlines.bounding_box()
    raw = page.locator("#raw").bounding_box()
    assert top is not None and raw is not None and top["y"] < 400 < raw["y"]
    assert page.locator("#tally").is_visible() and page.locator("#machines").is_visible()

    # every part, every headline, each with a status a person can read
    for part in spec.parts:
        section = page.locator(f"#part-{part.id}")
        assert section.is_visible(), part.id
        assert section.locator("h2").inner_text() == part.title
        assert section.locator("tr.headline").count() == len(part.headlines)
    statuses = page.locator("#headlines td.status").all_inner_texts()
    assert len(statuses) == sum(len(p.headlines) for p in spec.parts)
    assert set(statuses) <= {MET, NOT_MET, NOT_RECORDED, NO_BAR, FAST_MODE, NOT_A_NUMBER}
    assert MET in statuses  # the committed results meet some bars
    first = page.locator("#headlines tr.headline").first
    assert first.is_visible() and "%" in first.locator("td.value").inner_text()

    # the story plots are rendered images, not broken ones
    images = page.locator("#headlines figure img")
    assert images.count() >= 3
    widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(w > 100 for w in widths), widths

    # the raw keys are below, collapsed until clicked
    details = page.locator("#raw-keys")
    assert details.get_attribute("open") is None
    assert not page.locator("#raw-keys table").first.is_visible()

    shot = repo_root() / "docs" / "results_screenshot.png" if os.environ.get(RECORD_ENV) else tmp_path / "shot.png"
    page.screenshot(path=str(shot))
    _shrink_png(shot)
    assert shot.stat().st_size > 5_000

    page.locator("#raw-keys summary").click()
    assert page.locator("#raw-keys table").first.is_visible()
    page.close()
