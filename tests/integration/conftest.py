"""Fixtures of the integration tier: real models and real servers."""

from __future__ import annotations

import os

import pytest


# ---- one real vLLM server for every test marked real_model that needs it -------------------------
@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory):
    """A real vLLM server on loopback, started once per test session (about 40 s on 2 idle cores)."""
    from genai_lab.serving.server import VLLMServer

    log = tmp_path_factory.mktemp("vllm") / "server.log"
    server = VLLMServer(kv_cache_memory_bytes=128 * 1024**2, max_model_len=1024, log_path=log, startup_timeout=400)
    with server:
        pgid = os.getpgid(server.process.pid)
        yield server
    # Teardown: nothing of the server's process group may survive.
    import psutil

    left = [p.pid for p in psutil.process_iter() if _safe_pgid(p.pid) == pgid]
    assert not left, f"orphaned vLLM processes: {left}"


def _safe_pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
