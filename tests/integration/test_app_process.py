"""The capstone app as a managed process: with fake models it starts, answers /healthz, and stops with
nothing of its process group left behind; by default (``make app``) it starts its own vLLM server,
answers through it, and stops it too."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from genai_lab.app.client import AppProcess, ask
from genai_lab.serving.process import ServerStartupError


def test_app_process_starts_answers_and_stops():
    with AppProcess(["--fake"]) as app:
        assert app.health["status"] == "ok"
        assert app.health["backend"] == "fake"
        pgid = os.getpgid(app.pid)
        assert ask(app.url, "How long is the warranty?").answer
    assert app.process is None and app.pid is None
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_a_failed_start_shows_the_log_tail():
    with pytest.raises(ServerStartupError, match=r"(?s)capstone app exited with code 2.*--no-such-flag"):
        AppProcess(["--no-such-flag"], startup_timeout=60).start()


def _group_gone(pgid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.real_model
def test_the_default_app_serves_through_its_own_vllm_and_stops_it():
    """``make app`` as it is run by default: no URL set, no flag. One short answer (about 2 minutes on
    2 cores, most of it vLLM's start)."""
    unset = {"GENAI_LAB_VLLM_URL": "", "GENAI_LAB_VLLM_URLS": ""}  # blank counts as unset
    with AppProcess(["--max-new-tokens", "16"], env=unset, startup_timeout=600) as app:
        health = app.health
        assert health["backend"] == "vllm", f"fell back: {health.get('reason')}\n{app.log_tail()}"
        vllm = health["vllm"]
        assert vllm["managed"] and "reader" in vllm["lora_modules"]
        cmdline = Path(f"/proc/{vllm['pid']}/cmdline").read_bytes().split(b"\0")
        assert b"--enable-prefix-caching" in cmdline and b"--enable-lora" in cmdline
        assert b"--kv-cache-memory-bytes" in cmdline  # the bounded KV cache
        vllm_group = os.getpgid(vllm["pid"])
        result = ask(app.url, "How long is the hardware warranty?", timeout=300)
        assert result.error is None and result.answer.strip(), result
        assert "(vllm" in result.route["model"]
        assert "starting vLLM on" in app.log_tail(400) and "vLLM is ready" in app.log_tail(400)
    assert _group_gone(vllm_group, 30), "the app's vLLM server outlived the app"


def test_the_load_scripts_sweep_records_every_level_and_the_knee(tmp_path: Path):
    """``scripts/load_test_app.py --sweep`` with fake models: one service, one run per level, nothing
    lost, and the levels and the knee recorded (fast runs record into build/results-fast/)."""
    import json
    import subprocess
    import sys

    from genai_lab.paths import build_dir, repo_root

    done = subprocess.run(
        [sys.executable, str(repo_root() / "scripts" / "load_test_app.py"), "--fake", "--fast", "--sweep", "1,2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "[ 1 concurrent]" in done.stdout and "[ 2 concurrent]" in done.stdout
    assert "0 lost" in done.stdout and "knee (fake):" in done.stdout
    recorded = json.loads((build_dir() / "results-fast" / "40_capstone_app.json").read_text())
    assert recorded["app.sweep.fake.knee"] in (1, 2)
    assert recorded["app.sweep.fake.c2.requests"] == 4 and recorded["app.sweep.fake.c1.lost"] == 0
