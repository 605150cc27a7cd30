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

Other endpoints: ``POST /api/documents`` adds a document to the index without a restart,
``GET /healthz``, ``GET /metrics`` (JSON: status counts, chat outcomes, latency p50/p99, memory) and
``GET /`` (the page). At most ``max_concurrency`` answers are generated at once and ``max_queue``
more wait; beyond that the service answers ``429`` with a message, and a request that waits longer
than ``queue_timeout_s`` gets ``503``: nothing is dropped silently.

:func:`create_app` takes its backends as arguments, so tests pass a fake model
(:mod:`genai_lab.app.fake`) and :func:`default_app` builds the real one (SmolLM2 through
:func:`genai_lab.rag.llm.get_chat_model`: a vLLM server if ``$GENAI_LAB_VLLM_URL`` answers, else
in-process transformers; MiniLM embeddings).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI
    from langchain_core.runnables import Runnable

    from genai_lab.app.index import KnowledgeIndex
    from genai_lab.serving.router import RouterPolicy

from pydantic import BaseModel, ConfigDict

STATIC_DIR = Path(__file__).parent / "static"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class ModelSlot:
    """A chat model (any LangChain runnable that streams text) and the label the page shows."""

    llm: Runnable
    label: str


@dataclass
class AppConfig:
    """Limits of the service."""

    max_question_chars: int = 4_000
    max_body_bytes: int = 1_000_000
    max_concurrency: int = 1
    max_queue: int = 16
    queue_timeout_s: float = 120.0
    top_k: int = 3
    extra: dict[str, Any] = field(default_factory=dict)


class ChatRequest(BaseModel):
    """The body of ``POST /api/chat``."""

    model_config = ConfigDict(extra="ignore")
    question: str
    adapter: str | None = None


class DocumentRequest(BaseModel):
    """The body of ``POST /api/documents``."""

    model_config = ConfigDict(extra="ignore")
    title: str
    text: str
    source: str | None = None
    classification: str = "internal"


class ApiError(Exception):
    """An error the API reports as ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def clean_text(text: str) -> str:
    """Make user text safe to process and to send back: lone surrogates (which cannot be encoded
    as UTF-8) become U+FFFD, valid surrogate pairs become their character, and control characters
    other than tab and newline (NUL included) are removed. Emoji and right-to-left text are kept."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("", text)


def _error_json(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": code, "message": message}, status_code=status, headers=dict(headers or {}))


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """One readable sentence per pydantic error, naming the field and the fix."""
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "json_invalid":
            parts.append(
                f"The request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')}). "
                'Send a JSON object such as {"question": "How long is the warranty?"}.'
            )
        elif kind == "missing" and where == "body":
            parts.append('The request body is empty. Send a JSON object such as {"question": "..."}.')
        elif kind == "missing":
            parts.append(f"The field '{where}' is required.")
        elif kind in ("model_attributes_type", "dict_type"):
            parts.append('The body must be a JSON object such as {"question": "..."}.')
        elif kind.startswith("string") or kind.endswith("_type"):
            parts.append(f"The field '{where}': {err.get('msg', 'invalid value')}.")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid value')}.")
    return " ".join(parts) or "Invalid request."


class _Gate:
    """Admission control: ``concurrency`` requests run, ``queue`` wait, the rest are refused."""

    def __init__(self, concurrency: int, queue: int) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError(f"max_concurrency must be >= 1 and max_queue >= 0, got {concurrency}, {queue}.")
        self.concurrency, self.queue = concurrency, queue
        self.admitted = 0  # running + waiting
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:  # a new event loop (tests): a new semaphore
            self._sem, self._loop = asyncio.Semaphore(self.concurrency), loop
        return self._sem

    def try_admit(self) -> bool:
        if self.admitted >= self.concurrency + self.queue:
            return False
        self.admitted += 1
        return True

    async def acquire(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._semaphore().acquire(), timeout)
            return True
        except TimeoutError:
            self.admitted -= 1
            return False

    def release(self) -> None:
        self.admitted -= 1
        self._semaphore().release()


def readable(explanation: str, question: str) -> str:
    """The router's explanation with its fresh-information regex replaced by the words it matched
    in ``question``: ``needs fresh/web information: \\bcurrent(?:ly)?\\b`` -> ``... "current"``."""
    from genai_lab.serving.router import normalize

    def words(match: re.Match[str]) -> str:
        try:
            found = re.search(match.group(1), normalize(question))
        except re.error:
            return match.group(0)
        return f'needs fresh/web information: "{found.group(0)}"' if found else match.group(0)

    return re.sub(r"needs fresh/web information: (.+?)(?=; |$)", words, explanation)


def citation_list(docs: list[Any], answer: str) -> list[dict[str, Any]]:
    """The retrieved chunks as citations: number, source, page, section, title, a snippet, and
    whether the answer cites it (``[n]`` or its file name)."""
    from genai_lab.rag.chain import cited_sources

    cited = cited_sources(answer, docs)
    out = []
    for n, doc in enumerate(docs, 1):
        meta = doc.metadata
        text = " ".join(doc.page_content.split())
        out.append({
            "n": n,
            "source": meta.get("source"),
            "page": meta.get("page"),
            "section": meta.get("section"),
            "title": meta.get("title"),
            "snippet": text[:300] + ("…" if len(text) > 300 else ""),
            "cited": meta.get("source") in cited,
        })  # fmt: skip
    return out


def create_app(
    index: KnowledgeIndex,
    models: Mapping[str, ModelSlot],
    policy: RouterPolicy | None = None,
    adapters: Mapping[str, ModelSlot] | None = None,
    config: AppConfig | None = None,
    audit_log: str | Path | None = None,
) -> FastAPI:
    """Build the FastAPI app.

    Args:
        index: the knowledge-base index (retrieval and ``POST /api/documents``).
        models: ``{"internal": ModelSlot, "external": ModelSlot}``.
        policy: the router's rules (default: read from the knowledge base's manifest).
        adapters: per-request adapters by name; each is a model served by our own base (internal).
        config: limits (:class:`AppConfig`).
        audit_log: optional JSON Lines file of routing decisions (the router's :class:`AuditLog`).
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse
    from langchain_core.runnables import RunnableLambda
    from sse_starlette.sse import EventSourceResponse
    from starlette.background import BackgroundTask
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

    from genai_lab.app.metrics import Metrics
    from genai_lab.rag.chain import build_rag_chain_with_sources, is_abstention
    from genai_lab.serving.router import EXTERNAL, INTERNAL, AuditLog, Decision, RouterPolicy

    missing = {"internal", "external"} - set(models)
    if missing:
        raise ValueError(f"create_app needs models for 'internal' and 'external'; missing {sorted(missing)}.")
    config = config or AppConfig()
    policy = policy or RouterPolicy.from_knowledge_base()
    adapters = dict(adapters or {})
    audit = AuditLog(audit_log) if audit_log else None
    metrics = Metrics()
    gate = _Gate(config.max_concurrency, config.max_queue)

    app = FastAPI(
        title="GenAI Service Lab: knowledge-base chat",
        description="RAG over the company knowledge base, with routing, adapters and streaming.",
        version="1.0",
    )
    app.state.index, app.state.metrics, app.state.config, app.state.gate = index, metrics, config, gate
    app.state.models, app.state.adapters, app.state.policy = models, adapters, policy

    # -- errors and counting -------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Any:
        headers = {"Retry-After": "2"} if exc.status in (429, 503) else None
        return _error_json(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        return _error_json(422, "invalid_request", _validation_message(list(exc.errors())))

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Any:
        return _error_json(404, "not_found", f"No route {request.url.path}; see /docs for the API.")

    class CountingMiddleware:
        """Counts every response by status, and refuses oversized bodies before reading them."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            length = dict(scope.get("headers", [])).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
                response = _error_json(413, "body_too_large", f"The request body has {int(length):,} bytes; the limit is {config.max_body_bytes:,}.")
                metrics.count_status(413)
                return await response(scope, receive, send)

            async def counting_send(message: Any) -> None:
                if message["type"] == "http.response.start":
                    metrics.count_status(message["status"])
                await send(message)

            return await self.inner(scope, receive, counting_send)

    app.add_middleware(CountingMiddleware)

    # -- the page, health and metrics -----------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "index_chunks": len(index),
            "models": {route: slot.label for route, slot in models.items()},
            "adapters": sorted(adapters),
            "limits": {"max_question_chars": config.max_question_chars, "max_concurrency": config.max_concurrency, "max_queue": config.max_queue},
        }

    @app.get("/metrics")
    async def get_metrics() -> dict[str, Any]:
        snap = metrics.snapshot()
        snap["index_chunks"] = len(index)
        snap["admitted"] = gate.admitted
        return snap

    # -- documents -----------------------------------------------------------------------------------
    @app.post("/api/documents", status_code=201)
    def add_document(body: DocumentRequest) -> dict[str, Any]:
        title, text = clean_text(body.title).strip(), clean_text(body.text).strip()
        if not title or not text:
            raise ApiError(422, "invalid_request", "A document needs a non-empty 'title' and 'text'.")
        if len(title) > 200:
            raise ApiError(422, "invalid_request", f"The title has {len(title)} characters; keep it under 200.")
        try:
            return index.add_document(title, text, source=body.source and clean_text(body.source), classification=body.classification)
        except ValueError as exc:
            raise ApiError(413 if "limit" in str(exc) else 422, "invalid_request", str(exc)) from exc

    # -- chat ----------------------------------------------------------------------------------------
    def validate(body: ChatRequest) -> str:
        question = clean_text(body.question).strip()
        if not question:
            metrics.count_chat("invalid")
            raise ApiError(422, "empty_question", "The question is empty. Type a question about the knowledge base.")
        if len(question) > config.max_question_chars:
            metrics.count_chat("invalid")
            raise ApiError(413, "question_too_long", f"The question has {len(question):,} characters; the limit is {config.max_question_chars:,}. Shorten it.")
        if body.adapter is not None and body.adapter not in adapters:
            metrics.count_chat("invalid")
            known = ", ".join(sorted(adapters)) or "none are loaded"
            raise ApiError(422, "unknown_adapter", f"Unknown adapter {body.adapter!r}; available: {known}.")
        return question

    def choose(question: str, adapter: str | None) -> tuple[Decision, ModelSlot]:
        decision = policy.classify(question)
        if adapter is not None:  # adapters live on our own base model: always internal
            reasons = (*decision.reasons, f"adapter '{adapter}' requested: served by our base model with that adapter")
            decision = Decision(INTERNAL, decision.confidential, reasons, decision.needs_fresh_info)
            return decision, adapters[adapter]
        return decision, models[decision.route]

    def keep_private_context_inside(decision: Decision, slot: ModelSlot, docs: list[Any]) -> tuple[Decision, ModelSlot]:
        """Defence in depth: if any chunk of the context is not public (internal or confidential
        documents), the request stays on the internal model, whatever the question's route."""
        if decision.route != EXTERNAL:
            return decision, slot
        private = sorted({
            f"{d.metadata.get('source', '?')} ({d.metadata.get('classification', 'unlabelled')})"
            for d in docs if d.metadata.get("classification") != "public"
        })  # fmt: skip
        if not private:
            reasons = (*decision.reasons, "context limited to public documents")
            return Decision(decision.route, decision.confidential, reasons, decision.needs_fresh_info), slot
        reason = "retrieved context includes non-public documents, which never leave: " + ", ".join(private)
        return Decision(INTERNAL, decision.confidential, (*decision.reasons, reason), decision.needs_fresh_info), models[INTERNAL]

    @app.post("/api/chat")
    async def chat(body: ChatRequest) -> Any:
        start = time.perf_counter()
        question = validate(body)
        decision, slot = choose(question, body.adapter)
        if not gate.try_admit():
            metrics.count_chat("rejected")
            raise ApiError(429, "busy", f"The service is busy ({gate.concurrency} answering, {gate.queue} waiting). Retry in a few seconds.")
        metrics.gauge("queued", 1)
        admitted = await gate.acquire(config.queue_timeout_s)
        metrics.gauge("queued", -1)
        if not admitted:
            metrics.count_chat("rejected")
            raise ApiError(503, "queue_timeout", f"No answer slot became free within {config.queue_timeout_s:.0f} s. Retry later.")
        metrics.gauge("in_flight", 1)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gate.release()
                metrics.gauge("in_flight", -1)

        async def write_audit(route: Decision) -> None:
            if audit is not None:
                import hashlib

                await run_in_threadpool(audit.append, {
                    "time": time.time(), "route": route.route, "confidential": route.confidential,
                    "reasons": list(route.reasons), "adapter": body.adapter,
                    "sha256": hashlib.sha256(question.encode("utf-8")).hexdigest(), "chars": len(question),
                })  # fmt: skip

        def event(name: str, data: dict[str, Any]) -> dict[str, str]:
            return {"event": name, "data": json.dumps(data, ensure_ascii=False)}

        async def stream() -> AsyncIterator[dict[str, str]]:
            outcome = "error"
            first_token: float | None = None
            try:
                # Retrieve first. A question routed outside gets only public documents as context, and
                # keep_private_context_inside checks that again before anything leaves.
                retriever = index.retriever(config.top_k, public_only=decision.route == EXTERNAL)
                try:
                    docs: list[Any] = await run_in_threadpool(retriever.invoke, question)
                except Exception as exc:  # the index or the embedding model failed
                    yield event("error", {"message": f"Retrieval failed: {type(exc).__name__}: {exc}. Retry later.", "route": decision.route})
                    return
                route, model_slot = keep_private_context_inside(decision, slot, docs)
                await write_audit(route)  # the final decision, before anything is sent to a model
                yield event("route", {
                    "route": route.route, "model": model_slot.label, "confidential": route.confidential,
                    "reasons": list(route.reasons), "explanation": readable(route.explain(), question), "adapter": body.adapter,
                })  # fmt: skip
                chain = build_rag_chain_with_sources(RunnableLambda(lambda _question: docs), model_slot.llm)
                pieces: list[str] = []
                try:
                    async for chunk in iterate_in_threadpool(iter(chain.stream(question))):
                        if "docs" in chunk:
                            docs = list(chunk["docs"])
                        if chunk.get("answer"):
                            first_token = first_token or time.perf_counter()
                            pieces.append(chunk["answer"])
                            yield event("token", {"text": chunk["answer"]})
                except Exception as exc:  # the model failed
                    where = route.route
                    closed = (
                        " The request was kept internal, so it was NOT sent to the external model (fail closed)."
                        if route.route == INTERNAL else ""
                    )
                    yield event("error", {"message": f"The {where} model ({model_slot.label}) failed: {type(exc).__name__}: {exc}.{closed} Retry when the backend is back.", "route": where})
                    return
                answer = "".join(pieces).strip()
                yield event("citations", {"citations": citation_list(docs, answer)})
                latency = (time.perf_counter() - start) * 1000
                yield event("done", {"answer": answer, "abstained": is_abstention(answer), "latency_ms": round(latency, 1)})
                outcome = "ok"
            finally:
                release()
                metrics.count_chat(
                    outcome,
                    (time.perf_counter() - start) * 1000 if outcome == "ok" else None,
                    (first_token - start) * 1000 if first_token and outcome == "ok" else None,
                )

        return EventSourceResponse(stream(), background=BackgroundTask(release), ping=15)

    return app


# ------------------------------------------------------------------------------------------------
# The real backends
# ------------------------------------------------------------------------------------------------
def default_models(
    max_new_tokens: int = 64, base_url: str | None = None, adapters: Mapping[str, Path] | None = None
) -> tuple[dict[str, ModelSlot], dict[str, ModelSlot]]:
    """The models behind the routes, and the per-request adapters.

    The internal model is SmolLM2 (vLLM server if ``$GENAI_LAB_VLLM_URL`` answers, else in-process
    transformers). The external one is the router's external endpoint when
    ``GENAI_LAB_EXTERNAL_URL``/``_MODEL`` are set (see :class:`~genai_lab.serving.router.RouterConfig`);
    offline it is the same SmolLM2, playing the hosted model, as in notebook 23. ``adapters``
    (``{name: LoRA folder}``) become adapter slots on the same base (:mod:`genai_lab.app.adapters`)."""
    import os

    from genai_lab.rag.llm import get_chat_model
    from genai_lab.serving.router import EXTERNAL, Endpoint

    llm = get_chat_model(backend="auto", base_url=base_url, max_new_tokens=max_new_tokens)
    backend = llm.backend  # type: ignore[attr-defined]
    base: Any = llm
    adapter_slots: dict[str, ModelSlot] = {}
    if adapters and backend == "transformers":
        from genai_lab.app.adapters import AdapterSwitch, switched

        switch = AdapterSwitch.load(llm.llm.pipeline.model, adapters)  # type: ignore[attr-defined]
        base = switched(llm, switch, None)  # plain requests run with the adapters switched off
        for name in adapters:
            adapter_slots[name] = ModelSlot(switched(llm, switch, name), f"internal: SmolLM2 + LoRA adapter '{name}' ({backend})")
    elif adapters:  # vLLM switches LoRA adapters itself: the adapter's name is the model name
        for name in adapters:
            chat = get_chat_model(backend="vllm", base_url=base_url, max_new_tokens=max_new_tokens, model=name)
            adapter_slots[name] = ModelSlot(chat, f"internal: SmolLM2 + LoRA adapter '{name}' (vllm)")
    internal = ModelSlot(base, f"internal: SmolLM2-135M-Instruct ({backend})")
    url, name = os.environ.get("GENAI_LAB_EXTERNAL_URL"), os.environ.get("GENAI_LAB_EXTERNAL_MODEL")
    if url and name:
        endpoint = Endpoint(EXTERNAL, url, name, os.environ.get("GENAI_LAB_EXTERNAL_API_KEY_ENV"))
        external = ModelSlot(endpoint.chat_model(max_tokens=max_new_tokens), f"external: {name} at {url}")
    else:
        external = ModelSlot(base, f"external: SmolLM2 playing the hosted model, offline ({backend})")
    return {"internal": internal, "external": external}, adapter_slots


def fake_models(delay: float = 0.0) -> dict[str, ModelSlot]:
    """Two deterministic fake models (:class:`~genai_lab.app.fake.FakeChatModel`)."""
    from genai_lab.app.fake import FakeChatModel

    return {
        "internal": ModelSlot(FakeChatModel(name_label="internal-fake", delay=delay), "internal: fake model (tests)"),
        "external": ModelSlot(FakeChatModel(name_label="external-fake", delay=delay), "external: fake model (tests)"),
    }


def default_app(
    fake: bool = False,
    max_new_tokens: int = 64,
    index_path: Path | None = None,
    config: AppConfig | None = None,
    fake_delay: float = 0.0,
    adapters: Mapping[str, Path] | None = None,
) -> FastAPI:
    """The service over ``data/kb/``: real SmolLM2 and MiniLM, or with ``fake`` the deterministic
    stand-ins (instant; for tests and demos). ``adapters``: ``{name: LoRA folder}`` served per request.
    The index is saved to ``build/app/index.faiss``."""
    from genai_lab.app.fake import HashingEmbeddings
    from genai_lab.app.index import KnowledgeIndex
    from genai_lab.paths import build_dir

    folder = build_dir() / "app"
    index_path = index_path or folder / ("index-fake.faiss" if fake else "index.faiss")
    index = KnowledgeIndex.from_knowledge_base(embedding=HashingEmbeddings() if fake else None, path=index_path)
    if fake:
        models, adapter_slots = fake_models(fake_delay), {}
        if adapters:
            raise ValueError("--adapter needs the real model; it cannot be combined with --fake.")
    else:
        models, adapter_slots = default_models(max_new_tokens, adapters=adapters)
    if config is None:
        in_process = models["internal"].label.endswith("(transformers)")
        # One in-process model answers one request at a time; a vLLM server batches many.
        config = AppConfig(max_concurrency=1 if in_process else 8, max_queue=16 if in_process else 32)
    return create_app(index, models, adapters=adapter_slots, config=config, audit_log=folder / "audit.jsonl")
