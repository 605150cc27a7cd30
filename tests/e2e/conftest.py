"""The browser both end-to-end tests drive: Debian's ``chromium`` through Playwright, one per session.

Without Chromium or Playwright a test is skipped with the fix, except on CI (``$CI`` set), where that is
a failure: ``scripts/setup.sh`` installs Chromium there.
"""

from __future__ import annotations

import os

import pytest

from genai_lab.app.browser import INSTALL_HINT, find_chromium, launch


def _need(what: str) -> None:
    message = f"{what} is missing, so the browser test cannot run. {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(f"On CI the browser test must run: {message} (scripts/setup.sh does this on CI).")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("The Python package playwright")
    executable = find_chromium()
    if executable is None:
        _need("Chromium")
    with sync_playwright() as p:
        b = launch(p, executable)
        yield b
        b.close()
