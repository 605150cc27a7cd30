"""The capstone application: a chat service over the knowledge base (RAG, routing, adapters,
streaming), its web page, a Python client and a load test.

- :mod:`genai_lab.app.service`: ``create_app(...)`` (FastAPI) and ``default_app()``;
- :mod:`genai_lab.app.index`: the knowledge-base index that grows without a restart;
- :mod:`genai_lab.app.metrics`: counters and latency percentiles for ``/metrics``;
- :mod:`genai_lab.app.client`: ``ask``, ``stream_chat``, ``add_document``, ``AppProcess``;
- :mod:`genai_lab.app.loadtest`: ``run_load``;
- :mod:`genai_lab.app.fake`: deterministic stand-ins for the models (tests, fast mode).

Run it with ``make app`` or ``python -m genai_lab.app --port 8000`` and open http://127.0.0.1:8000.
"""
