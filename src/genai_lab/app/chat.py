"""The chat pipeline — admit, route, retrieve, guard, answer — as an object, testable without HTTP.

:class:`ChatService` holds the index, the models, the router's policy, the limits and the audit log.
One question goes through it in this order:

1. :meth:`~ChatService.validate`: clean the text, check its length and the adapter (cheap, on the
   event loop; a 4xx before anything else);
2. :meth:`~ChatService.admit`: take an answer slot (429 when the queue is full, 503 after waiting too
   long), so that everything below is bounded by ``max_concurrency``;
3. :meth:`~ChatService.route`: the router's policy classifies the question **in a worker thread** (a
   slow or pathological classification cannot stall the event loop, and ``/healthz`` keeps answering);
4. :meth:`~ChatService.retrieve`: chunks from the index (public ones only for an external route);
5. :meth:`~ChatService.guard`: defence in depth — non-public context keeps the request internal;
6. :meth:`~ChatService.answer`: the RAG chain's **async** stream (``chain.astream``), so that a client
   who goes away cancels the generation instead of leaving it running in a thread.

:meth:`~ChatService.stream` yields the events (``route``, ``token``..., ``citations``, ``done``, or
``error``) as :class:`ChatEvent` tuples; the HTTP layer (:mod:`genai_lab.app.routes`) only turns them into
Server-Sent Events. Errors reach the client as a generic sentence with the request id; the exception
itself goes to the server log. Each request ends with one :class:`~genai_lab.audit.AuditRecord`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from genai_lab.app.config import AppConfig
from genai_lab.app.errors import ApiError
from genai_lab.app.gate import AdmissionGate, Ticket
from genai_lab.app.metrics import Metrics
from genai_lab.app.schemas import clean_text
from genai_lab.audit import AuditLog, AuditRecord, new_request_id

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.runnables import Runnable

    from genai_lab.app.index import KnowledgeIndex
    from genai_lab.serving.router import Decision, RouterPolicy

log = logging.getLogger("genai_lab.app")


@dataclass
class ModelSlot:
    """A chat model (any LangChain runnable that streams text), the label the page shows, and the
    backend that runs it (a key of :data:`~genai_lab.app.config.BACKEND_LIMITS`, or ``"external"``)."""

    llm: Runnable
    label: str
    backend: str = "fake"


class ChatEvent(NamedTuple):
    """One event of a chat stream: its name and its JSON-able data."""

    name: str
    data: dict[str, Any]


class ChatService:
    """The chat pipeline; see the module docstring.

    Args:
        index: the knowledge-base index.
        models: ``{"internal": ModelSlot, "external": ModelSlot}``.
        policy: the router's rules.
        adapters: per-request adapters by name; each is served by our own base model (internal).
        config: limits (:class:`~genai_lab.app.config.AppConfig`).
        audit: where each request's :class:`~genai_lab.audit.AuditRecord` goes (``None``: nowhere).
        metrics: counters and histograms (a new :class:`~genai_lab.app.metrics.Metrics` by default).
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        models: Mapping[str, ModelSlot],
        policy: RouterPolicy,
        adapters: Mapping[str, ModelSlot] | None = None,
        config: AppConfig | None = None,
        audit: AuditLog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        missing = {"internal", "external"} - set(models)
        if missing:
            raise ValueError(f"The chat service needs models for 'internal' and 'external'; missing {sorted(missing)}.")
        self.index, self.models, self.policy = index, dict(models), policy
        self.adapters = dict(adapters or {})
        self.config = config or AppConfig()
        self.audit, self.metrics = audit, metrics or Metrics()
        self.gate = AdmissionGate(self.config.max_concurrency, self.config.max_queue)
        self.metrics.set_backends({route: (slot.label, slot.backend) for route, slot in self.models.items()})
        self.metrics.watch_index(lambda: len(self.index))

    def warm_up(self) -> float:
        """Classify one harmless question now, so that whatever the policy loads lazily (a semantic
        layer's embedding model, say) is loaded before the first request, not during it. Seconds taken."""
        start = time.perf_counter()
        self.policy.classify("How long is the hardware warranty?")
        seconds = time.perf_counter() - start
        log.info("router policy ready in %.1f s", seconds)
        return seconds

    # -- 1. validate -----------------------------------------------------------------------------
    def validate(self, question: str, adapter: str | None = None) -> str:
        """The cleaned question, or :class:`ApiError` (422/413) naming the fix."""
        question = clean_text(question).strip()
        problem: ApiError | None = None
        if not question:
            message = "The question is empty. Type a question about the knowledge base."
            problem = ApiError(422, "empty_question", message)
        elif len(question) > self.config.max_question_chars:
            problem = ApiError(
                413, "question_too_long",
                f"The question has {len(question):,} characters; the limit is "
                f"{self.config.max_question_chars:,}. Shorten it.",
            )  # fmt: skip
        elif adapter is not None and adapter not in self.adapters:
            known = ", ".join(sorted(self.adapters)) or "none are loaded"
            problem = ApiError(422, "unknown_adapter", f"Unknown adapter {adapter!r}; available: {known}.")
        if problem is not None:
            self.metrics.count_chat("invalid")
            raise problem
        return question

    # -- 2. admit --------------------------------------------------------------------------------
    async def admit(self) -> Ticket:
        """An answer slot, or :class:`ApiError` 429 (queue full) / 503 (waited ``queue_timeout_s``)."""
        gate = self.gate
        if not gate.try_admit():
            self.metrics.count_chat("rejected")
            raise ApiError(
                429, "busy",
                f"The service is busy ({gate.concurrency} answering, {gate.queue} waiting). Retry in a few seconds.",
            )  # fmt: skip
        self.metrics.queue_depth.inc()
        try:
            admitted = await gate.acquire(self.config.queue_timeout_s)
        finally:
            self.metrics.queue_depth.dec()
        if not admitted:
            self.metrics.count_chat("rejected")
            raise ApiError(
                503, "queue_timeout",
                f"No answer slot became free within {self.config.queue_timeout_s:.0f} s. Retry later.",
            )  # fmt: skip
        self.metrics.in_flight_gauge.inc()
        return Ticket(gate, self.metrics.in_flight_gauge.dec)

    # -- 3. route --------------------------------------------------------------------------------
    def _decide(self, question: str, adapter: str | None) -> tuple[Decision, ModelSlot]:
        from genai_lab.serving.router import INTERNAL, Decision

        decision = self.policy.classify(question)
        if adapter is not None:  # adapters live on our own base model: always internal
            reasons = (*decision.reasons, f"adapter '{adapter}' requested: served by our base model with that adapter")
            return Decision(INTERNAL, decision.confidential, reasons, decision.needs_fresh_info), self.adapters[adapter]
        return decision, self.models[decision.route]

    async def route(self, question: str, adapter: str | None = None) -> tuple[Decision, ModelSlot]:
        """The router's decision and the model that will answer, computed in a worker thread."""
        return await asyncio.to_thread(self._decide, question, adapter)

    # -- 4. retrieve -----------------------------------------------------------------------------
    async def retrieve(self, question: str, decision: Decision) -> list[Any]:
        """The top-k chunks; a question routed outside gets only public documents as context."""
        from genai_lab.serving.router import EXTERNAL

        retriever = self.index.retriever(self.config.top_k, public_only=decision.route == EXTERNAL)
        return list(await retriever.ainvoke(question))

    # -- 5. guard --------------------------------------------------------------------------------
    def guard(self, decision: Decision, slot: ModelSlot, docs: list[Any]) -> tuple[Decision, ModelSlot]:
        """Defence in depth: if any chunk of the context is not public (internal or confidential
        documents), the request stays on the internal model, whatever the question's route."""
        from genai_lab.serving.router import EXTERNAL, INTERNAL, Decision

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
        kept = Decision(INTERNAL, decision.confidential, (*decision.reasons, reason), decision.needs_fresh_info)
        return kept, self.models[INTERNAL]

    # -- 6. answer -------------------------------------------------------------------------------
    async def answer(self, slot: ModelSlot, docs: list[Any], question: str) -> AsyncGenerator[str, None]:
        """The answer's text pieces, from the RAG chain's async stream over ``docs``."""
        from langchain_core.runnables import RunnableLambda

        from genai_lab.rag.chain import build_rag_chain_with_sources

        chain = build_rag_chain_with_sources(RunnableLambda(lambda _question: docs), slot.llm)
        stream = cast("AsyncGenerator[dict[str, Any], None]", chain.astream(question))
        async with contextlib.aclosing(stream) as chunks:  # closed at once when cancelled
            async for chunk in chunks:
                if chunk.get("answer"):
                    yield chunk["answer"]

    # -- the whole request -----------------------------------------------------------------------
    async def stream(
        self, ticket: Ticket, question: str, adapter: str | None = None, request_id: str | None = None,
        start: float | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:  # fmt: skip
        """Route, retrieve, guard and answer one validated, admitted question; releases ``ticket``."""
        from genai_lab.app.presentation import citation_list, readable
        from genai_lab.rag.chain import is_abstention
        from genai_lab.serving.router import INTERNAL

        rid = request_id or new_request_id()
        start = time.perf_counter() if start is None else start
        outcome, error, first_token = "error", None, None
        decision: Decision | None = None
        slot: ModelSlot | None = None
        try:
            try:
                decision, slot = await self.route(question, adapter)
                docs = await self.retrieve(question, decision)
                decision, slot = self.guard(decision, slot, docs)
                explanation = await asyncio.to_thread(readable, decision.explain(), question)
            except Exception as exc:  # the policy, the index or the embedding model failed
                error = type(exc).__name__
                log.exception("request %s: routing or retrieval failed", rid)
                message = f"Routing or retrieval failed (request id {rid}). Retry later."
                yield ChatEvent("error", {"message": message, "route": decision.route if decision else None})
                return
            yield ChatEvent("route", {
                "route": decision.route, "model": slot.label, "confidential": decision.confidential,
                "reasons": list(decision.reasons), "explanation": explanation, "adapter": adapter,
            })  # fmt: skip
            pieces: list[str] = []
            try:
                async with contextlib.aclosing(self.answer(slot, docs, question)) as answer_pieces:
                    async for piece in answer_pieces:
                        first_token = first_token or time.perf_counter()
                        pieces.append(piece)
                        yield ChatEvent("token", {"text": piece})
            except Exception as exc:  # the model failed: its message may hold a URL or a key, so it stays in the log
                error = type(exc).__name__
                log.exception("request %s: the %s model (%s) failed", rid, decision.route, slot.label)
                closed = (
                    " The request was kept internal, so it was NOT sent to the external model (fail closed)."
                    if decision.route == INTERNAL else ""
                )  # fmt: skip
                message = f"The {decision.route} model ({slot.label}) failed (request id {rid}).{closed} Retry later."
                yield ChatEvent("error", {"message": message, "route": decision.route})
                return
            answer = "".join(pieces).strip()
            try:
                citations = citation_list(docs, answer)
            except Exception:  # odd metadata must not cost the answer its end: log it, send no citations
                log.exception("request %s: could not build the citations", rid)
                citations = []
            yield ChatEvent("citations", {"citations": citations})
            latency = (time.perf_counter() - start) * 1000
            done = {"answer": answer, "abstained": is_abstention(answer), "latency_ms": round(latency, 1)}
            yield ChatEvent("done", done)
            outcome = "ok"
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            log.info("request %s: the client went away; generation cancelled", rid)
            raise
        finally:
            ticket.release()
            end = time.perf_counter()
            latency_ms = (end - start) * 1000
            route = decision.route if decision else None
            ok = outcome == "ok"
            first_ms = (first_token - start) * 1000 if first_token and ok else None
            self.metrics.count_chat(outcome, route, latency_ms if ok else None, first_ms)
            if decision is not None and self.audit is not None:
                record = AuditRecord.for_text(
                    question, request_id=rid, route=decision.route, confidential=decision.confidential,
                    reasons=decision.reasons, outcome=outcome, model=slot.label if slot else None,
                    adapter=adapter, error=error, latency_ms=latency_ms,
                )  # fmt: skip
                self._write_audit(record)

    def _write_audit(self, record: AuditRecord) -> None:
        """Append ``record`` (a short synchronous fsync: it also runs while the request is being cancelled,
        when no await is possible)."""
        assert self.audit is not None
        try:
            self.audit.append(record)
        except Exception:  # the answer was given; a full disk must not turn it into an error, but it is logged
            log.exception("request %s: could not write the audit record", record.request_id)

    async def ask(self, question: str, adapter: str | None = None, request_id: str | None = None) -> list[ChatEvent]:
        """Validate, admit and answer one question; all its events (for tests and scripts)."""
        start = time.perf_counter()
        question = self.validate(question, adapter)
        ticket = await self.admit()
        return [event async for event in self.stream(ticket, question, adapter, request_id, start)]
