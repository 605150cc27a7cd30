"""The capstone app as a managed process (fake models): it starts, answers /healthz, and stops with
nothing of its process group left behind."""

from __future__ import annotations

import os

import pytest

from genai_lab.app.client import AppProcess, ask
from genai_lab.serving.process import ServerStartupError


def test_app_process_starts_answers_and_stops():
    with AppProcess(["--fake"]) as app:
        assert app.health["status"] == "ok"
        pgid = os.getpgid(app.pid)
        assert ask(app.url, "How long is the warranty?").answer
    assert app.process is None and app.pid is None
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_a_failed_start_shows_the_log_tail():
    with pytest.raises(ServerStartupError, match=r"(?s)capstone app exited with code 2.*--no-such-flag"):
        AppProcess(["--no-such-flag"], startup_timeout=60).start()
