"""Drive the service's page in a real headless browser (Playwright with the system Chromium).

Playwright's own browser download does not work offline, so we point it at Debian's ``chromium``
package (``apt-get install chromium``): :func:`find_chromium` finds it (``$GENAI_LAB_CHROMIUM``
overrides). :func:`ask_in_page` types a question, waits until the streamed answer is complete (or
the page shows its error state) and reads what the page shows. The end-to-end test
(``tests/test_app_e2e.py``) and ``scripts/capstone_browser_check.py`` both use it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_ENV = "GENAI_LAB_CHROMIUM"
INSTALL_HINT = (
    "Install Debian's Chromium with `sudo apt-get install -y --no-install-recommends chromium` "
    f"(or point ${CHROMIUM_ENV} at a Chromium/Chrome binary), and `pip install playwright` "
    "(no `playwright install` needed)."
)


def find_chromium() -> str | None:
    """The Chromium binary to drive: ``$GENAI_LAB_CHROMIUM``, else ``chromium`` on the PATH."""
    if env := os.environ.get(CHROMIUM_ENV):
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def launch(playwright: Any, executable: str | None = None) -> Any:
    """Launch headless Chromium through Playwright with the system binary."""
    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError(f"No Chromium found. {INSTALL_HINT}")
    return playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])


def ask_in_page(page: Any, question: str, timeout_ms: float = 120_000, expand: bool = True) -> dict[str, Any]:
    """Ask ``question`` on the page and return what it shows once the answer is done or an error
    appears: ``{"answer", "route", "badge", "model", "why", "citations", "error", "saw_streaming"}``.
    ``saw_streaming`` is true when a partial answer was visible before the answer was complete."""
    page.fill("#question", question)
    page.click("#ask")
    # The first state change: a partial answer, a complete one, or the error state.
    handle = page.wait_for_function(
        "() => { const a = document.getElementById('answer');"
        " if (document.getElementById('error').classList.contains('shown')) return 'error';"
        " if (a.dataset.done === 'true') return 'done';"
        " return a.classList.contains('streaming') && a.textContent.length > 0 ? 'streaming' : false; }",
        timeout=timeout_ms,
    )
    saw_streaming = handle.json_value() == "streaming"
    page.wait_for_function(
        "() => document.getElementById('answer').dataset.done === 'true'"
        " || document.getElementById('error').classList.contains('shown')",
        timeout=timeout_ms,
    )
    error = page.inner_text("#error") if page.is_visible("#error") else None
    summaries = page.locator("#citations details summary")
    if expand:
        for i in range(summaries.count()):
            summaries.nth(i).click()
    citations = [
        {"summary": summaries.nth(i).inner_text(),
         "snippet_visible": page.locator("#citations details .snippet").nth(i).is_visible()}
        for i in range(summaries.count())
    ]
    return {
        "answer": page.inner_text("#answer"),
        "route": page.get_attribute("#badge", "data-route"),
        "badge": page.inner_text("#badge"),
        "model": page.inner_text("#model"),
        "why": page.inner_text("#why"),
        "citations": citations,
        "error": error,
        "saw_streaming": saw_streaming,
    }
