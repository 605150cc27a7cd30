"""The chat pipeline (genai_lab.app.chat.ChatService) called directly: no HTTP, fake models."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from test_app_service import DOCS, make_index  # noqa: E402

from genai_lab.app.chat import ChatService, ModelSlot  # noqa: E402
from genai_lab.app.config import AppConfig  # noqa: E402
from genai_lab.app.errors import ApiError  # noqa: E402
from genai_lab.app.fake import FakeChatModel  # noqa: E402
from genai_lab.audit import AuditLog  # noqa: E402
from genai_lab.serving.router import RouterPolicy  # noqa: E402

SECRET = "sk-live-THIS-IS-A-SECRET"


class LeakyBackend(FakeChatModel):
    """A backend whose exception message carries a URL with an API key, as real clients' do."""

    def answer(self, messages):  # type: ignore[no-untyped-def]
        raise ConnectionError(f"cannot reach https://api.example.com/v1?api_key={SECRET}")


class ThreadRecordingPolicy(RouterPolicy):
    """The router's policy, remembering the thread each classification ran in."""

    def classify(self, text):  # type: ignore[no-untyped-def]
        self.threads.append(threading.current_thread())
        return super().classify(text)


def make_service(tmp_path: Path | None = None, delay: float = 0.0, **config: object) -> ChatService:
    models = {
        "internal": ModelSlot(FakeChatModel(name_label="internal-fake", delay=delay), "internal: fake"),
        "external": ModelSlot(FakeChatModel(name_label="external-fake", delay=delay), "external: fake"),
    }
    policy = ThreadRecordingPolicy(project_names=["Project Kestrel", "Kestrel"])
    policy.threads = []  # type: ignore[attr-defined]
    audit = AuditLog(tmp_path / "audit.jsonl") if tmp_path else None
    return ChatService(make_index(), models, policy, config=AppConfig(**config), audit=audit)  # type: ignore[arg-type]


def test_pipeline_without_http_streams_route_tokens_citations_done(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    events = asyncio.run(service.ask("How long is the hardware warranty?", request_id="req-1"))
    names = [e.name for e in events]
    assert names[0] == "route" and names[-2:] == ["citations", "done"] and set(names[1:-2]) == {"token"}
    assert "24 months" in events[-1].data["answer"]
    assert events[-2].data["citations"][0]["source"] == "legal/warranty.pdf"
    (record,) = service.audit.entries()  # type: ignore[union-attr]
    assert record["request_id"] == "req-1" and record["outcome"] == "ok" and record["model"] == "internal: fake"
    assert record["latency_ms"] > 0 and "warranty" not in str(record)
    assert service.gate.admitted == 0 and service.metrics.in_flight == 0


def test_classification_runs_off_the_event_loop_thread() -> None:
    service = make_service()

    async def go() -> threading.Thread:
        await service.ask("What is the latest on Project Kestrel?")
        return threading.current_thread()

    loop_thread = asyncio.run(go())
    threads = service.policy.threads  # type: ignore[attr-defined]
    assert threads and all(t is not loop_thread for t in threads)


def test_route_and_guard_directly() -> None:
    service = make_service()
    decision, slot = asyncio.run(service.route("What is the latest news today?"))
    assert decision.route == "external" and slot.label == "external: fake"
    private = [d for d in service.index.snapshot().docstore._dict.values()  # type: ignore[attr-defined]
               if d.metadata["classification"] != "public"]  # fmt: skip
    kept, kept_slot = service.guard(decision, slot, private)
    assert kept.route == "internal" and kept_slot.label == "internal: fake"
    assert any("non-public documents" in r for r in kept.reasons)
    docs = asyncio.run(service.retrieve("latest news today on the meal per diem", decision))
    assert docs and all(d.metadata["classification"] == "public" for d in docs)


def test_validate_names_the_fix() -> None:
    service = make_service(max_question_chars=10)
    assert service.validate("  warranty?\x00 ") == "warranty?"
    for question, adapter, status, needle in [
        ("   ", None, 422, "empty"), ("x" * 11, None, 413, "limit is 10"), ("hi", "pirate", 422, "none are loaded"),
    ]:
        with pytest.raises(ApiError, match=needle) as info:
            service.validate(question, adapter)
        assert info.value.status == status


def test_admission_refuses_beyond_the_queue_and_times_out() -> None:
    service = make_service(max_concurrency=1, max_queue=1, queue_timeout_s=0.1)

    async def go() -> tuple[int, int]:
        ticket = await service.admit()
        waiting = asyncio.create_task(service.admit())  # takes the one queue place, then times out
        await asyncio.sleep(0.01)
        with pytest.raises(ApiError) as full:
            await service.admit()
        with pytest.raises(ApiError) as late:
            await waiting
        ticket.release()
        ticket.release()  # idempotent
        return full.value.status, late.value.status

    assert asyncio.run(go()) == (429, 503)
    assert service.gate.admitted == 0 and service.metrics.snapshot()["chat"] == {"rejected": 2}


def test_backend_error_reaches_the_log_not_the_client(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = make_service(tmp_path)
    service.models["internal"].llm = LeakyBackend()
    with caplog.at_level(logging.ERROR, logger="genai_lab.app"):
        events = asyncio.run(service.ask("Project Kestrel status?", request_id="req-secret"))
    assert [e.name for e in events] == ["route", "error"]
    message = events[-1].data["message"]
    assert SECRET not in message and "api.example.com" not in message
    assert "req-secret" in message and "NOT sent to the external model" in message
    assert SECRET in caplog.text and "req-secret" in caplog.text  # the details are in the server log
    (record,) = service.audit.entries()  # type: ignore[union-attr]
    assert record["outcome"] == "error" and record["error"] == "ConnectionError" and SECRET not in str(record)


def test_closing_the_stream_cancels_generation(tmp_path: Path) -> None:
    service = make_service(tmp_path, delay=0.05)
    llm = service.models["internal"].llm

    async def go() -> int:
        question = service.validate("How many days of annual leave?")
        stream = service.stream(await service.admit(), question, request_id="req-gone")
        async for event in stream:
            if event.name == "token":
                break
        await stream.aclose()  # the client went away
        produced = llm.words_streamed
        await asyncio.sleep(0.3)  # a generation still running would produce ~6 more words
        assert llm.words_streamed == produced
        return produced

    produced = asyncio.run(go())
    assert produced < 5  # the answer has 10 words; generation stopped near the first
    (record,) = service.audit.entries()  # type: ignore[union-attr]
    assert record["outcome"] == "cancelled" and record["request_id"] == "req-gone"
    assert service.gate.admitted == 0 and service.metrics.snapshot()["chat"] == {"cancelled": 1}


def test_service_needs_both_routes() -> None:
    with pytest.raises(ValueError, match="missing \\['external'\\]"):
        ChatService(make_index(), {"internal": ModelSlot(FakeChatModel(), "x")}, RouterPolicy())


def test_index_has_the_documents() -> None:
    assert len(make_service().index) == len(DOCS)


def test_a_failing_citation_builder_still_ends_with_citations_and_done(monkeypatch: pytest.MonkeyPatch) -> None:
    import genai_lab.app.presentation as presentation

    def broken(docs, answer):  # type: ignore[no-untyped-def]
        raise TypeError("odd metadata")

    monkeypatch.setattr(presentation, "citation_list", broken)
    events = asyncio.run(make_service().ask("How long is the hardware warranty?"))
    assert [e.name for e in events][-2:] == ["citations", "done"] and events[-2].data == {"citations": []}


def test_create_app_warms_the_policy_up_before_the_first_request() -> None:
    from test_app_service import make_app

    app = make_app()
    policy = ThreadRecordingPolicy(project_names=["Kestrel"])
    policy.threads = []  # type: ignore[attr-defined]
    from genai_lab.app.service import create_app

    create_app(app.state.index, app.state.models, policy=policy, config=app.state.config)
    assert len(policy.threads) == 1  # classified once at creation: lazy loading is not paid by a request
