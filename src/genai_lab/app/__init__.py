"""The capstone application: a chat service over the knowledge base (RAG, routing, adapters,
streaming), its web page, a Python client and a load test.

- :mod:`genai_lab.app.service`: ``create_app(...)`` (FastAPI) and ``default_app()``, which assemble:
- :mod:`genai_lab.app.chat`: ``ChatService``, the pipeline (admit, route, retrieve, guard, answer),
  testable without HTTP;
- :mod:`genai_lab.app.routes`: thin routers (chat, documents, health/metrics, page);
- :mod:`genai_lab.app.middleware`: request ids, host check, body limits;
- :mod:`genai_lab.app.documents`: the checks of ``POST /api/documents`` (token, classification, quotas);
- :mod:`genai_lab.app.config`: ``AppConfig``, every limit of the service;
- :mod:`genai_lab.app.server`: uvicorn with header/body deadlines (slow clients are cut off);
- :mod:`genai_lab.app.backends`: the models behind the slots (vLLM or in process; the grounded reader);
- :mod:`genai_lab.app.startup`: which backend answers (the managed vLLM server by default, its fallback);
- :mod:`genai_lab.app.balance`: least-outstanding balancing across several vLLM servers
  (``GENAI_LAB_VLLM_URLS``);
- :mod:`genai_lab.app.index`: the knowledge-base index that grows without a restart;
- :mod:`genai_lab.app.metrics`: Prometheus metrics for ``/metrics`` and the JSON view ``/metrics.json``;
- :mod:`genai_lab.app.client`: ``ask``, ``stream_chat``, ``add_document``, ``AppProcess``;
- :mod:`genai_lab.app.loadtest`: ``run_load``;
- :mod:`genai_lab.app.fake`: deterministic stand-ins for the models (tests, fast mode).

Run it with ``make app`` or ``python -m genai_lab.app --port 8000`` and open http://127.0.0.1:8000.
"""

from __future__ import annotations

from typing import Any

RESULTS_NAME = "40_capstone_app"


def app_recorder(directory: Any = None) -> Any:
    """``Recorder("40_capstone_app")`` that keeps the figures already in the file: the notebook, the
    load test and the browser check each record their own keys into the same results file."""
    import json

    from genai_lab.results import META_KEYS, Recorder

    rec = Recorder(RESULTS_NAME, directory)
    if rec.path.is_file():
        old = json.loads(rec.path.read_text(encoding="utf-8"))
        rec.values.update({k: v for k, v in old.items() if k not in META_KEYS})
    return rec
