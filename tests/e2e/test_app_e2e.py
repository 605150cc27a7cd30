"""End to end: the service's page in headless Chromium (Playwright driving Debian's ``chromium``).

The service runs in a background uvicorn thread on a free loopback port, over the real knowledge
base, with the deterministic fake models (fast, same answers on every run). Without Chromium or
Playwright the test is skipped with the fix, except on CI (``$CI`` set), where that is a failure:
``scripts/setup.sh`` installs Chromium there.
"""

from __future__ import annotations

from genai_lab.app.browser import ask_in_page


def test_page_streams_answers_with_citations_badges_and_error_state(browser, tmp_path):
    from genai_lab.app.client import serve_in_thread
    from genai_lab.app.service import default_app

    app = default_app(fake=True, fake_delay=0.03, index_path=tmp_path / "index.faiss")
    page = browser.new_page()
    with serve_in_thread(app) as url:
        page.goto(url)
        page.wait_for_function("() => document.getElementById('health').textContent.includes('chunks indexed')")

        # 0. the badge says which backend answers (here the fake models; `make app` shows vLLM)
        badge = page.locator("#backend")
        assert badge.is_visible()
        assert (badge.text_content(), badge.get_attribute("data-backend")) == ("backend: fake models", "fake")
        assert "--fake" in (badge.get_attribute("title") or "")  # why: the reason from /healthz

        # 1. a question: the answer streams in, then its citations, expandable, with source/page/section
        shown = ask_in_page(page, "How long is the warranty on Brightwater hardware?", timeout_ms=30_000)
        assert shown["error"] is None
        assert shown["saw_streaming"], "no partial answer was visible while streaming"
        assert shown["answer"].strip().endswith("[1]")
        assert len(shown["citations"]) == 3
        assert all(c["snippet_visible"] for c in shown["citations"])  # expanded by clicking
        first = shown["citations"][0]["summary"]
        assert first.startswith("[1] ") and ("page" in first or "section" in first)

        # 2. a confidential question: the internal badge, and why
        shown = ask_in_page(page, "What is the status of Project Kestrel?", timeout_ms=30_000)
        assert (shown["route"], shown["badge"]) == ("internal", "internal model")
        assert "confidential" in shown["why"] and "Kestrel" in shown["why"]
        assert page.locator("#badge.internal").is_visible()

        # a question that needs fresh information goes to the external model
        shown = ask_in_page(page, "What is the latest news today?", timeout_ms=30_000)
        assert (shown["route"], shown["badge"]) == ("external", "external model")

        # 3. the backend fails: the page shows the error state, the service stays up
        app.state.models["internal"].llm.fail = True
        shown = ask_in_page(page, "Project Kestrel launch date?", timeout_ms=30_000)
        assert shown["error"] is not None and "failed" in shown["error"]
        assert page.locator("#error.shown").is_visible()
        app.state.models["internal"].llm.fail = False

    # 4. the service is gone: the page says it is not reachable
    shown = ask_in_page(page, "Anyone there?", timeout_ms=30_000)
    assert shown["error"] is not None and "not reachable" in shown["error"]
    page.close()
