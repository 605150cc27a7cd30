"""The search service as a managed child process on loopback (start, health, log, clean stop)."""

from __future__ import annotations

import sys
from pathlib import Path

from genai_lab.serving.server import VLLMServer, free_port


class SearchServer(VLLMServer):
    """``python -m genai_lab.search`` on a free loopback port, with the lifecycle guarantees of the
    course's server manager (bounded start, log file, process-group shutdown).

    Args:
        corpus: a BEIR ``corpus.jsonl`` (default: SciFact from the benchmarks folder).
        request_log: the service's JSON Lines log of every query it received.
        startup_timeout: seconds to wait for ``/health`` (indexing SciFact takes a few seconds).
    """

    def __init__(
        self,
        corpus: str | Path | None = None,
        request_log: str | Path | None = None,
        startup_timeout: float = 120.0,
        log_path: str | Path | None = None,
    ) -> None:
        super().__init__(model="search", served_model_name="search", startup_timeout=startup_timeout,
                         log_path=log_path)
        self.corpus = Path(corpus) if corpus is not None else None
        self.request_log = Path(request_log) if request_log is not None else None

    def command(self) -> list[str]:
        if self.port is None:
            self.port = free_port()
        if self.request_log is None:
            import tempfile

            self.request_log = Path(tempfile.mkdtemp(prefix="genai-lab-search-")) / "requests.jsonl"
        cmd = [sys.executable, "-m", "genai_lab.search", "--port", str(self.port), "--log", str(self.request_log)]
        return cmd + (["--corpus", str(self.corpus)] if self.corpus is not None else [])

    def queries(self) -> list[str]:
        """Every query the service received, from its own request log."""
        from genai_lab.search.service import read_request_log

        return [str(e["query"]) for e in read_request_log(self.request_log)] if self.request_log else []

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"SearchServer({self.corpus}, port={self.port}, {state}, log={self.request_log})"
