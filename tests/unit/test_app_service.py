"""The capstone service with fake models and hashed-word embeddings: seconds, no model loading."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sse_starlette")

from fastapi.testclient import TestClient  # noqa: E402
from langchain_core.documents import Document  # noqa: E402

from genai_lab.app.client import ServiceError, ask, serve_in_thread, sse_events  # noqa: E402
from genai_lab.app.fake import FakeChatModel, HashingEmbeddings  # noqa: E402
from genai_lab.app.index import KnowledgeIndex  # noqa: E402
from genai_lab.app.loadtest import run_load  # noqa: E402
from genai_lab.app.service import AppConfig, ModelSlot, clean_text, create_app  # noqa: E402
from genai_lab.serving.router import RouterPolicy  # noqa: E402

DOCS = [
    ("legal/warranty.pdf", 2, None, "public",
     "Brightwater hardware carries a limited warranty of 24 months from the date of purchase."),
    ("policies/travel.md", None, "Meal allowance", "internal",
     "The daily meal per diem for business travel is 55 EUR."),
    ("projects/kestrel.md", None, "Status", "confidential",
     "Project Kestrel moves its launch to September because the NPU supplier is late."),
    ("handbook/leave.md", None, "Annual leave", "internal",
     "Employees receive 27 days of annual leave per calendar year."),
]


def make_index(path=None) -> KnowledgeIndex:
    chunks = [
        Document(page_content=text, metadata={"source": src, "page": page, "section": section, "title": src,
                                              "classification": classification})
        for src, page, section, classification, text in DOCS
    ]
    return KnowledgeIndex.from_chunks(chunks, embedding=HashingEmbeddings(), path=path)


TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "http://127.0.0.1"  # the service answers only for its configured hosts


def make_app(index=None, delay=0.0, adapters=None, **config):
    config.setdefault("write_token", TOKEN)
    models = {
        "internal": ModelSlot(FakeChatModel(name_label="internal-fake", delay=delay), "internal: fake"),
        "external": ModelSlot(FakeChatModel(name_label="external-fake", delay=delay), "external: fake"),
    }
    policy = RouterPolicy(project_names=["Project Kestrel", "Kestrel"])
    return create_app(index or make_index(), models, policy=policy, adapters=adapters, config=AppConfig(**config))


def events(response) -> list[tuple[str, dict]]:
    return list(sse_events(response))


def client_for(app) -> TestClient:
    return TestClient(app, base_url=BASE)


@pytest.fixture
def client():
    return client_for(make_app())


# ------------------------------------------------------------------------------------------------
# Streaming, citations and routing
# ------------------------------------------------------------------------------------------------
def test_chat_streams_route_tokens_citations_done_in_order(client):
    response = client.post("/api/chat", json={"question": "How long is the hardware warranty?"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    evs = events(response)
    names = [name for name, _ in evs]
    assert names[0] == "route" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"token"} and len(names) > 4  # streamed word by word
    answer = "".join(data["text"] for name, data in evs if name == "token")
    done = evs[-1][1]
    assert done["answer"] == answer.strip() and "24 months" in answer and done["abstained"] is False
    citations = evs[-2][1]["citations"]
    assert len(citations) == 3
    first = citations[0]
    assert (first["n"], first["source"], first["page"], first["cited"]) == (1, "legal/warranty.pdf", 2, True)
    assert {"source", "page", "section", "title", "snippet"} <= set(first)


def test_confidential_question_stays_internal_and_says_why(client):
    evs = events(client.post("/api/chat", json={"question": "What is the latest on Project Kestrel today?"}))
    route = evs[0][1]
    assert route["route"] == "internal" and route["confidential"] is True
    assert route["model"] == "internal: fake"
    assert any("Kestrel" in r for r in route["reasons"]) and "confidential" in route["explanation"]


def test_fresh_information_question_goes_external(client):
    route = events(client.post("/api/chat", json={"question": "What is the latest news today?"}))[0][1]
    assert (route["route"], route["confidential"], route["model"]) == ("external", False, "external: fake")


class RecordingFake(FakeChatModel):
    """The fake model, keeping every prompt it receives."""

    seen: list = []

    def answer(self, messages):
        self.seen.append("\n".join(str(m.content) for m in messages))
        return super().answer(messages)


def test_external_model_sees_only_public_documents():
    internal, external = RecordingFake(name_label="internal", seen=[]), RecordingFake(name_label="external", seen=[])
    app = make_app()
    app.state.models["internal"].llm, app.state.models["external"].llm = internal, external
    client = client_for(app)
    for question in ("What is the latest news today on the meal per diem for travel?",
                     "Latest news today: when does the NPU supplier deliver, and how many days of leave?"):
        evs = events(client.post("/api/chat", json={"question": question}))
        assert evs[0][1]["route"] == "external"
        assert {c["source"] for c in evs[-2][1]["citations"]} <= {"legal/warranty.pdf"}
    prompts = "\n".join(external.seen)
    assert external.seen and not internal.seen
    for src, _, _, classification, text in DOCS:
        assert (text in prompts) == (classification == "public"), f"{src} ({classification}) reached the external model"


def test_private_context_keeps_the_request_internal_even_if_retrieval_leaks(monkeypatch):
    """Defence in depth: a retriever that ignores the public-only filter cannot send private text out."""
    index = make_index()
    unfiltered = index.retriever
    monkeypatch.setattr(index, "retriever", lambda k=3, public_only=False: unfiltered(k))
    client = client_for(make_app(index=index))
    question = "What is the latest news today on the meal per diem?"
    route = events(client.post("/api/chat", json={"question": question}))[0][1]
    assert route["route"] == "internal" and route["model"] == "internal: fake"
    assert any("non-public documents" in r and "policies/travel.md (internal)" in r for r in route["reasons"])


def test_adapter_is_served_internally_and_unknown_adapter_is_rejected():
    style = ModelSlot(FakeChatModel(name_label="style"), "internal: fake + style adapter")
    client = client_for(make_app(adapters={"style": style}))
    route = events(client.post("/api/chat", json={"question": "latest news today?", "adapter": "style"}))[0][1]
    assert (route["route"], route["adapter"], route["model"]) == ("internal", "style", "internal: fake + style adapter")
    bad = client.post("/api/chat", json={"question": "hi", "adapter": "pirate"})
    assert bad.status_code == 422 and "pirate" in bad.json()["message"] and "style" in bad.json()["message"]
    assert client.get("/healthz").json()["adapters"] == ["style"]


def test_backend_failure_is_an_error_event_that_fails_closed():
    app = make_app()
    app.state.models["internal"].llm.fail = True
    client = client_for(app)
    evs = events(client.post("/api/chat", json={"question": "Project Kestrel status?"}))
    assert [n for n, _ in evs] == ["route", "error"]
    assert "NOT sent to the external model" in evs[-1][1]["message"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics.json").json()["chat"] == {"error": 1}


# ------------------------------------------------------------------------------------------------
# Bad input: a clear 4xx with a message, and the service stays up
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"question": ""}, 422, "empty"),
        ({"question": "   \n\t "}, 422, "empty"),
        ({"question": "\x00\x00"}, 422, "empty"),
        ({"question": "x" * 50_000}, 413, "limit is 4,000"),
        ({}, 422, "'question' is required"),
        ({"adapter": "x"}, 422, "'question' is required"),
        ({"question": 42}, 422, "question"),
        ({"question": None}, 422, "question"),
        ([1, 2], 422, "JSON object"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_the_service_stays_up(client, body, status, needle):
    response = client.post("/api/chat", json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error", "message"} and needle in payload["message"]
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/chat", json={"question": "warranty?"}).status_code == 200


@pytest.mark.parametrize("raw", [b"{not json", b'{"question": "unterminated', b"", b"\xff\xfe{}"])
def test_invalid_json_is_rejected_with_a_message(client, raw):
    response = client.post("/api/chat", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["message"]


def test_oversized_body_is_refused_before_reading():
    client = client_for(make_app(max_body_bytes=1000))
    response = client.post("/api/chat", json={"question": "x" * 5000})
    assert response.status_code == 413 and "limit is 1,000" in response.json()["message"]


@pytest.mark.parametrize(
    "question",
    ["Wie lange gilt die Garantie? 🛠️👍🏽", "كم مدة الضمان؟ warranty", "warranty\x00 months", "שלום warranty ‮evil"],
)
def test_unicode_edge_cases_are_answered(client, question):
    evs = events(client.post("/api/chat", json={"question": question}))
    assert evs[0][0] == "route" and evs[-1][0] == "done"


def test_lone_surrogates_do_not_break_the_stream(client):
    raw = b'{"question": "warranty \\ud800 and \\udfff ok \\ud83d\\ude00"}'  # lone, lone, valid pair
    response = client.post("/api/chat", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert events(response)[-1][0] == "done"


def test_clean_text():
    assert clean_text("a\x00b\x07c\td\ne") == "abc\td\ne"
    assert clean_text("x\ud800y") == "x\ufffdy"
    assert clean_text("\ud83d\ude00") == "😀"
    assert clean_text("مرحبا 👋") == "مرحبا 👋"


# ------------------------------------------------------------------------------------------------
# Metrics, health, page
# ------------------------------------------------------------------------------------------------
def test_metrics_count_requests_by_status_and_latency_percentiles(client):
    for _ in range(3):
        client.post("/api/chat", json={"question": "annual leave days?"})
    client.post("/api/chat", json={"question": ""})
    client.post("/api/chat", json={})
    m = client.get("/metrics.json").json()
    assert m["requests_by_status"]["200"] == 3 and m["requests_by_status"]["422"] == 2
    assert m["chat"]["ok"] == 3 and m["chat"]["invalid"] == 1
    lat = m["latency_ms"]
    assert lat["count"] == 3 and 0 < lat["p50"] <= lat["p99"]
    assert m["in_flight"] == 0 and m["admitted"] == 0 and m["rss_bytes"] > 0


def test_health_and_page(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["index_chunks"] == len(DOCS)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in ('id="question"', 'id="badge"', 'id="citations"', 'id="error"'):
        assert element in page.text
    missing = client.get("/nope")
    assert missing.status_code == 404 and "message" in missing.json()


# ------------------------------------------------------------------------------------------------
# Bounded concurrency: refuse clearly, never drop
# ------------------------------------------------------------------------------------------------
def test_full_queue_gets_429_with_a_message():
    app = make_app(delay=0.05, max_concurrency=1, max_queue=0)
    with serve_in_thread(app) as url:
        results: list = []

        def go() -> None:
            try:
                results.append(ask(url, "annual leave days per year?", timeout=30))
            except ServiceError as exc:
                results.append(exc)

        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    rejected = [r for r in results if isinstance(r, ServiceError)]
    answered = [r for r in results if not isinstance(r, ServiceError) and r.done]
    assert len(results) == 4 and rejected and answered
    assert all(r.status == 429 and "busy" in r.message for r in rejected)


def test_queue_timeout_gets_503():
    app = make_app(delay=0.1, max_concurrency=1, max_queue=2, queue_timeout_s=0.2)
    with serve_in_thread(app) as url, ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(ask, url, "What is the daily meal per diem for travel?") for _ in range(2)]
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(30).done is not None)
            except ServiceError as exc:
                outcomes.append(exc.status)
    assert sorted(outcomes, key=str) == sorted([True, 503], key=str)


def test_load_core_loses_nothing():
    app = make_app(delay=0.002, max_concurrency=4, max_queue=2)
    with serve_in_thread(app) as url:
        questions = ["warranty?", "Project Kestrel?", "latest news today?"]
        # pid: the server runs in this process, so its memory is ours (no need to ask /metrics.json)
        report = run_load(url, questions, n=24, concurrency=8, time_limit_s=60, pid=os.getpid())
    assert report.lost == 0, report.lost_reasons
    assert report.requests == 24 and report.answered + report.rejected + report.failed == 24
    assert report.answered > 0 and report.p50_ms is not None and report.p50_ms <= report.p99_ms


# ------------------------------------------------------------------------------------------------
# Adding documents: no restart, nothing lost, consistent after a crash
# ------------------------------------------------------------------------------------------------
def test_add_document_then_ask_about_it(client):
    body = {"title": "Bicycle parking", "text": "The bicycle parking garage opens at 06:30 on weekdays."}
    added = client.post("/api/documents", headers=AUTH, json=body)
    assert added.status_code == 201 and added.json()["chunks"] == 1
    assert client.get("/healthz").json()["index_chunks"] == len(DOCS) + 1
    evs = events(client.post("/api/chat", json={"question": "When does the bicycle parking garage open?"}))
    assert evs[-2][1]["citations"][0]["source"] == "added/bicycle-parking.md"
    assert "06:30" in evs[-1][1]["answer"]
    bad = client.post("/api/documents", headers=AUTH, json={"title": " ", "text": "x"})
    assert bad.status_code == 422 and "title" in bad.json()["message"]


def test_add_documents_while_requests_are_in_flight_loses_no_answer(tmp_path):
    index = make_index(tmp_path / "index.faiss")
    app = make_app(index=index, delay=0.02, max_concurrency=8, max_queue=8)
    in_flight_at_add = []
    with serve_in_thread(app) as url, ThreadPoolExecutor(8) as pool:
        questions = ["warranty?", "annual leave?", "meal per diem?", "NPU supplier?"] * 4
        futures = [pool.submit(ask, url, q) for q in questions]
        deadline = time.monotonic() + 10
        while app.state.metrics.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        added = []
        for i in range(3):
            in_flight_at_add.append(app.state.metrics.in_flight)
            body = {"title": f"Notice {i}", "text": f"Notice number {i}: the canteen menu changes on day {i}."}
            response = httpx.post(f"{url}/api/documents", json=body, headers=AUTH, timeout=60)
            assert response.status_code == 201, response.text
            added.append(response.json())
        results = [f.result(60) for f in futures]
    assert in_flight_at_add[0] > 0  # the documents really went in while answers were streaming
    assert all(r.done is not None and r.error is None for r in results)
    assert all(len(r.citations) == 3 for r in results)
    assert [a["total_chunks"] for a in added] == [len(DOCS) + 1, len(DOCS) + 2, len(DOCS) + 3]
    reloaded = KnowledgeIndex.load(tmp_path / "index.faiss", HashingEmbeddings())
    assert len(reloaded) == len(DOCS) + 3 and {"added/notice-0.md", "added/notice-2.md"} <= reloaded.sources()


def test_crash_between_write_and_rename_leaves_the_old_index_intact(tmp_path):
    path = tmp_path / "index.faiss"
    index = make_index(path)
    before = path.read_bytes()

    def crash() -> None:
        raise OSError("simulated crash after writing the temporary file")

    index.before_rename = crash
    with pytest.raises(OSError, match="simulated crash"):
        index.add_document("Half written", "This document never makes it.")
    assert path.read_bytes() == before  # the old file, byte for byte
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]  # no temporary file left
    assert len(index) == len(DOCS) and "added/half-written.md" not in index.sources()
    reloaded = KnowledgeIndex.load(path, HashingEmbeddings())
    assert len(reloaded) == len(DOCS)
    hits = reloaded.snapshot().similarity_search("warranty months purchase", k=1)
    assert hits[0].metadata["source"] == "legal/warranty.pdf"
    index.before_rename = None  # the next write goes through
    index.add_document("Whole", "This one is written.")
    assert len(KnowledgeIndex.load(path, HashingEmbeddings())) == len(DOCS) + 1


def test_index_rejects_empty_and_oversized_documents():
    index = make_index()
    with pytest.raises(ValueError, match="non-empty"):
        index.add_document("", "text")
    with pytest.raises(ValueError, match="limit"):
        index.add_document("big", "x" * 200_001)


def test_events_are_valid_json_lines(client):
    response = client.post("/api/chat", json={"question": "warranty?"})
    lines = response.text.splitlines()
    names = [line[len("event:"):].strip() for line in lines if line.startswith("event:")]
    data = [json.loads(line[len("data:"):]) for line in lines if line.startswith("data:")]
    assert len(names) == len(data) > 4 and names[0] == "route" and names[-2:] == ["citations", "done"]
    assert all(isinstance(d, dict) for d in data)
    assert data[-1]["answer"] == "".join(d["text"] for n, d in zip(names, data, strict=True) if n == "token").strip()
