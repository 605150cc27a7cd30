"""The search service as a managed child process on loopback (start, health, log, clean stop)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from genai_lab.serving.process import ManagedProcess


class SearchServer(ManagedProcess):
    """``python -m genai_lab.search`` on a free loopback port, with the course's process lifecycle
    (:class:`genai_lab.serving.process.ManagedProcess`: bounded start, log file, group shutdown).

    Args:
        corpus: a BEIR ``corpus.jsonl`` (default: SciFact from the benchmarks folder).
        request_log: the service's JSON Lines log of every query it received (default: a temp file).
        startup_timeout: seconds to wait for ``/health`` (indexing SciFact takes a few seconds).
    """

    label = "search service"
    health_path = "/health"

    def __init__(
        self,
        corpus: str | Path | None = None,
        request_log: str | Path | None = None,
        startup_timeout: float = 120.0,
        log_path: str | Path | None = None,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, log_path=log_path)
        self.corpus = Path(corpus) if corpus is not None else None
        self.request_log = (
            Path(request_log) if request_log is not None
            else Path(tempfile.mkdtemp(prefix="genai-lab-search-")) / "requests.jsonl"
        )  # fmt: skip

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "genai_lab.search", "--port", str(self.port), "--log", str(self.request_log)]
        return cmd + (["--corpus", str(self.corpus)] if self.corpus is not None else [])

    def queries(self) -> list[str]:
        """Every query the service received, from its own request log."""
        from genai_lab.search.service import read_request_log

        return [str(e["query"]) for e in read_request_log(self.request_log)]
