"""Reading vLLM's start-up log (``kv_cache_lines``) and the child-process plumbing of the server
manager; no server is started."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from genai_lab.serving.server import VLLMServer, child_preexec, kv_cache_lines

LOG = (
    "\x1b[0;36m(APIServer pid=1)\x1b[0;0m INFO 11-28 01:35:01 [api_server.py:1] vLLM API server version 0.32.0\n"
    "\x1b[0;36m(EngineCore pid=2)\x1b[0;0m \x1b[32mINFO\x1b[0m \x1b[90m11-28 01:35:06\x1b[0m "
    "[kv_cache_utils.py:2327] CPU KV cache size: 5,760 tokens, "
    "Maximum concurrency for 1,024 tokens per request: 5.62x\n"
    "(EngineCore pid=3) INFO [kv_cache_utils.py:2327] GPU KV cache size: 224 tokens, "
    "Maximum concurrency for 112 tokens per request: 2.00x\n"
)


def test_kv_cache_lines_are_parsed_with_thousands_separators() -> None:
    first, second = kv_cache_lines(LOG)
    assert (first.tokens, first.tokens_per_request, first.max_concurrency) == (5760, 1024, 5.62)
    assert first.line.startswith("(EngineCore pid=2) INFO") and "\x1b" not in first.line
    assert (second.tokens, second.tokens_per_request, second.max_concurrency) == (224, 112, 2.0)
    assert kv_cache_lines("INFO nothing about the cache\n") == []


def test_the_server_reads_its_latest_kv_cache_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = VLLMServer(model="unused", log_path=log)
    with pytest.raises(RuntimeError, match="VLLM_LOGGING_LEVEL"):
        server.kv_cache()  # no log yet
    log.write_text(LOG, encoding="utf-8")
    assert server.kv_cache().tokens == 224  # a restart appends: the last report is the current one


def test_the_parent_death_signal_is_asked_for_from_the_main_thread_only() -> None:
    assert child_preexec() is not None
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(child_preexec()))
    worker.start()
    worker.join()
    assert seen == [None]  # the kernel would kill the child when the worker thread exits
