#!/usr/bin/env python
"""The capstone page in headless Chromium against the REAL service, with a screenshot.

Starts ``python -m genai_lab.app`` as ``make app`` does (its own vLLM server, MiniLM; the fake models with
``--fake``), drives the page with Playwright and Debian's chromium: the backend badge (vLLM; fake with
``--fake``), a question answered with citations, a confidential question kept on the internal model,
then the service stopped and the page's error state. Saves the screenshot
for the README (``docs/capstone_screenshot.png``) and records ``app.e2e.browser`` (the browser and
its version) in results/40_capstone_app.json (build/results-fast/ with ``--fake``).

    python scripts/capstone_browser_check.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genai_lab.app import app_recorder
from genai_lab.app.browser import ask_in_page, launch
from genai_lab.app.client import AppProcess
from genai_lab.paths import build_dir, repo_root

QUESTION = "How long is the current standard hardware warranty?"  # external, with public documents only
CONFIDENTIAL = "What is the status of Project Kestrel?"


def shrink_png(path: Path) -> None:
    """Re-save a screenshot with a 64-colour palette: a few tens of kB for the README."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", action="store_true", help="fake models (no screenshot for the README)")
    parser.add_argument(
        "--screenshot", type=Path, default=None, help="where to save it (default docs/capstone_screenshot.png)"
    )
    args = parser.parse_args(argv)
    default = build_dir() / "capstone_screenshot_fake.png" if args.fake else None
    shot = args.screenshot or default or repo_root() / "docs" / "capstone_screenshot.png"

    from playwright.sync_api import sync_playwright

    failures = []
    with sync_playwright() as p:
        browser = launch(p)
        label = f"{browser.browser_type.name} {browser.version}"
        print("browser:", label)
        page = browser.new_page(viewport={"width": 860, "height": 720})
        with AppProcess(["--fake"] if args.fake else []) as app:
            page.goto(app.url)
            page.wait_for_function("() => document.getElementById('health').textContent.includes('chunks indexed')")
            shown_backend = page.locator("#backend").get_attribute("data-backend")
            print(f"backend badge: {page.locator('#backend').text_content()!r} (/healthz: {app.health['backend']})")
            if shown_backend != app.health["backend"] or shown_backend != ("fake" if args.fake else "vllm"):
                failures.append(f"the backend badge shows {shown_backend!r}; /healthz says {app.health['backend']!r}"
                                + ("" if args.fake else f" ({app.health.get('reason')})"))
            secret = ask_in_page(page, CONFIDENTIAL)
            print(f"[{secret['route']}] {CONFIDENTIAL} -> {secret['answer'][:120]!r}\n    why: {secret['why']}")
            if secret["route"] != "internal" or secret["error"]:
                failures.append("the confidential question did not show the internal badge")
            shown = ask_in_page(page, QUESTION, expand=False)
            page.locator("#citations details summary").first.click()
            print(f"[{shown['route']}] {QUESTION} -> {shown['answer']!r}")
            print("    citations:", [c["summary"] for c in shown["citations"]], "| streamed:", shown["saw_streaming"])
            if shown["error"] or not shown["answer"].strip() or not shown["citations"]:
                failures.append("no streamed answer with citations")
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            shrink_png(shot)
            print(f"screenshot: {shot} ({shot.stat().st_size / 1024:.0f} kB)")
        down = ask_in_page(page, "Is anyone there?", timeout_ms=30_000)  # the service is stopped now
        print("service stopped -> page shows:", down["error"])
        if not down["error"]:
            failures.append("no error state after the service stopped")
        browser.close()
    if failures:
        print("FAILED:", "; ".join(failures))
        return 1
    rec = app_recorder(build_dir() / "results-fast" if args.fake else None)
    rec.record("app.e2e.browser", label)
    print(f"recorded app.e2e.browser = {label!r} in {rec.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
