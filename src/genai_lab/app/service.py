"""The capstone service: a chat API over the company knowledge base, and the page that uses it.

Why FastAPI (and not Gradio): the API is typed (pydantic models, so bad input gets a clear 4xx
with a message), health and metrics endpoints are ordinary routes, streaming is plain Server-Sent
Events (``sse-starlette``), and the page is one static HTML file with a little JavaScript, no build
step, which a browser test can drive element by element. Gradio would give a chat widget for free,
but it is heavier, hides the HTTP API behind its own protocol, and is not installed here.

One request to ``POST /api/chat`` goes through the three parts of the course:

1. the **router** (Part 2b, :class:`genai_lab.serving.router.RouterPolicy`) classifies the question:
   confidential questions stay on the internal model; questions that need fresh or web information
   may go to the external one; an optional **adapter** (Part 1) is served by our own base model,
   so it is internal too;
2. the **RAG chain** (Part 3, :func:`genai_lab.rag.chain.build_rag_chain_with_sources`) retrieves
   chunks from the :class:`~genai_lab.app.index.KnowledgeIndex` and asks the chosen model for a short
   answer that cites them, or "I don't know";
3. the answer **streams** back as Server-Sent Events, in this order::

       event: route      {"route", "model", "confidential", "reasons", "explanation", "adapter"}
       event: token      {"text"}                      (many)
       event: citations  {"citations": [{"n", "source", "page", "section", "title", "snippet", "cited"}]}
       event: done       {"answer", "abstained", "latency_ms"}

   or ``event: error {"message"}`` when the model fails (a failed internal request is never
   rerouted outside: it fails closed, like the router).

Other endpoints: ``POST /api/documents`` adds a document to the index without a restart (it needs
the configured token), ``GET /healthz``, ``GET /metrics`` (Prometheus text; ``GET /metrics.json`` for
the JSON view: status counts, chat outcomes, latency p50/p99, memory) and ``GET /`` (the page). At
most ``max_concurrency`` answers are generated at once and ``max_queue`` more wait; beyond that the
service answers ``429`` with a message, and a request that waits longer than ``queue_timeout_s`` gets
``503``: nothing is dropped silently. Every error is ``{"error", "message"}``; every response carries
an ``X-Request-ID``, which the audit log and the server log use too.

The parts: :mod:`~genai_lab.app.chat` (the pipeline, :class:`ChatService`, testable without HTTP),
:mod:`~genai_lab.app.routes` (thin routers), :mod:`~genai_lab.app.middleware` (request id, host check,
body limit), :mod:`~genai_lab.app.documents` (writes), :mod:`~genai_lab.app.config` (limits),
:mod:`~genai_lab.app.metrics` and :mod:`genai_lab.audit`. :func:`create_app` only assembles them; it
takes its backends as arguments, so tests pass fake models (:mod:`genai_lab.app.fake`), and
:func:`default_app` builds the real ones (:mod:`~genai_lab.app.backends`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.app.backends import default_models, fake_models
from genai_lab.app.chat import ChatEvent, ChatService, ModelSlot
from genai_lab.app.config import STATIC_DIR, AppConfig
from genai_lab.app.errors import ApiError
from genai_lab.app.gate import AdmissionGate
from genai_lab.app.presentation import citation_list, readable
from genai_lab.app.schemas import ChatRequest, DocumentRequest, clean_text

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from genai_lab.app.index import KnowledgeIndex
    from genai_lab.serving.router import RouterPolicy

__all__ = [
    "STATIC_DIR", "AdmissionGate", "ApiError", "AppConfig", "ChatEvent", "ChatRequest", "ChatService",
    "DocumentRequest", "ModelSlot", "citation_list", "clean_text", "create_app", "default_app",
    "default_models", "fake_models", "readable",
]  # fmt: skip


def create_app(
    index: KnowledgeIndex,
    models: Mapping[str, ModelSlot],
    policy: RouterPolicy | None = None,
    adapters: Mapping[str, ModelSlot] | None = None,
    config: AppConfig | None = None,
    audit_log: str | Path | None = None,
    backend_info: Mapping[str, Any] | None = None,
) -> FastAPI:
    """Build the FastAPI app.

    Args:
        index: the knowledge-base index (retrieval and ``POST /api/documents``).
        models: ``{"internal": ModelSlot, "external": ModelSlot}``.
        policy: the router's rules (default: read from the knowledge base's manifest).
        adapters: per-request adapters by name; each is a model served by our own base (internal).
        config: limits (:class:`AppConfig`).
        audit_log: optional JSON Lines file of routing decisions (:class:`genai_lab.audit.AuditLog`).
        backend_info: how the backend was chosen (``{"reason", "vllm": {...}}``, from
            :mod:`genai_lab.app.startup`), shown by ``/healthz`` beside ``"backend"``.
    """
    from fastapi import FastAPI

    from genai_lab.app import routes
    from genai_lab.app.documents import DocumentWriter
    from genai_lab.app.errors import install_error_handlers
    from genai_lab.app.middleware import install_middleware
    from genai_lab.audit import AuditLog
    from genai_lab.serving.router import RouterPolicy

    config = config or AppConfig()
    policy = policy or RouterPolicy.from_knowledge_base()
    audit = AuditLog(audit_log) if audit_log else None
    service = ChatService(index, models, policy, adapters, config, audit)
    service.warm_up()  # the policy's lazy loading happens here, not in the first request's answer slot
    app = FastAPI(
        title="GenAI Service Lab: knowledge-base chat",
        description="RAG over the company knowledge base, with routing, adapters and streaming.",
        version="1.0",
    )
    app.state.service, app.state.index, app.state.config, app.state.policy = service, index, config, policy
    app.state.metrics, app.state.gate = service.metrics, service.gate
    app.state.models, app.state.adapters = service.models, service.adapters
    app.state.backend_info = dict(backend_info or {})
    install_error_handlers(app)
    app.include_router(routes.page_router())
    app.include_router(routes.ops_router(service))
    app.include_router(routes.chat_router(service))
    app.include_router(routes.documents_router(DocumentWriter(index, config, policy)))
    install_middleware(app, service.metrics, config)
    return app


def default_app(
    fake: bool = False,
    max_new_tokens: int = 64,
    index_path: Path | None = None,
    config: AppConfig | None = None,
    fake_delay: float = 0.0,
    adapters: Mapping[str, Path] | None = None,
    overrides: Mapping[str, Any] | None = None,
    base_url: str | None = None,
    in_process: bool = False,
    backend_info: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The service over ``data/kb/``: real SmolLM2 and MiniLM, or with ``fake`` the deterministic
    stand-ins (instant; for tests and demos). ``adapters``: ``{name: LoRA folder}`` served per request.
    Without ``config`` the limits come from the internal model's backend
    (:meth:`AppConfig.for_backend`) with ``overrides`` applied. The index is saved to
    ``build/app/index.faiss``, the audit log to ``build/app/audit.jsonl``. ``base_url``: the vLLM
    server to use (the app's own, :mod:`genai_lab.app.startup`); ``in_process``: SmolLM2 in this
    process whatever the environment says; ``backend_info``: see :func:`create_app`."""
    from genai_lab.app.fake import HashingEmbeddings
    from genai_lab.app.index import KnowledgeIndex
    from genai_lab.paths import build_dir

    if fake and adapters:
        raise ValueError("--adapter needs the real model; it cannot be combined with --fake.")
    folder = build_dir() / "app"
    index_path = index_path or folder / ("index-fake.faiss" if fake else "index.faiss")
    index = KnowledgeIndex.from_knowledge_base(embedding=HashingEmbeddings() if fake else None, path=index_path)
    adapter_slots: dict[str, ModelSlot] = {}
    if fake:
        models = fake_models(fake_delay)
    else:
        models, adapter_slots = default_models(max_new_tokens, base_url, adapters, in_process=in_process)
    replicas = getattr(models["internal"].llm, "replicas", None)  # a LeastOutstandingBalancer over servers
    config = config or AppConfig.for_backend(
        models["internal"].backend, replicas=len(replicas) if replicas else 1, **dict(overrides or {})
    )
    if backend_info is None and fake:  # called from Python (tests), not through `python -m genai_lab.app`
        from genai_lab.app.startup import choose_backend

        backend_info = {"reason": choose_backend(fake=True, environ={}).reason}
    return create_app(index, models, adapters=adapter_slots, config=config, audit_log=folder / "audit.jsonl",
                      backend_info=backend_info)  # fmt: skip
