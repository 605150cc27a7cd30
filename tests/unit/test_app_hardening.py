"""Issue 14, the app's items: each test here failed on the service before its fix.

Loopback tests run uvicorn in a thread (genai_lab.app.server.running) and are bounded to a few seconds.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from test_app_service import AUTH, DOCS, TOKEN, client_for, events, make_app  # noqa: E402

from genai_lab.app.fake import FakeChatModel, HashingEmbeddings  # noqa: E402
from genai_lab.app.index import KnowledgeIndex  # noqa: E402
from genai_lab.app.server import running  # noqa: E402
from genai_lab.serving.router import RouterPolicy  # noqa: E402

SECRET = "sk-live-THIS-IS-A-SECRET"


def error_shape(response: httpx.Response) -> dict:
    payload = response.json()
    assert set(payload) == {"error", "message"}, payload
    return payload


# ------------------------------------------------------------------------------------------------
# 1. classification off the event loop: a slow classifier does not delay /healthz
# ------------------------------------------------------------------------------------------------
class SlowPolicy(RouterPolicy):
    """A classifier that takes 2 s (a pathological input, a slow rule)."""

    def classify(self, text):  # type: ignore[no-untyped-def]
        self.started.set()
        time.sleep(2.0)
        return super().classify(text)


def test_slow_classifier_does_not_delay_healthz():
    app = make_app()
    policy = SlowPolicy(project_names=["Kestrel"])
    policy.started = threading.Event()  # type: ignore[attr-defined]
    app.state.service.policy = policy
    with running(app) as url:
        ask = lambda: httpx.post(f"{url}/api/chat", json={"question": "warranty?"}, timeout=30)  # noqa: E731
        chat = threading.Thread(target=ask)
        chat.start()
        assert policy.started.wait(10)
        start = time.perf_counter()
        health = httpx.get(f"{url}/healthz", timeout=10)
        waited = time.perf_counter() - start
        chat.join(30)
    assert health.status_code == 200
    assert waited < 1.0, f"/healthz waited {waited:.2f} s behind a slow classification"


# ------------------------------------------------------------------------------------------------
# 2. the body limit counts bytes received, chunked bodies included
# ------------------------------------------------------------------------------------------------
def test_chunked_body_over_the_limit_gets_413():
    client = client_for(make_app(max_body_bytes=1000))

    def chunks():
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers  # really chunked
    assert response.status_code == 413
    payload = error_shape(response)
    assert payload["error"] == "body_too_large" and "limit is 1,000" in payload["message"]
    assert client.get("/healthz").status_code == 200


def test_false_content_length_does_not_pass_the_limit():
    """Over real HTTP: a small Content-Length header does not let a large body through either."""
    app = make_app(max_body_bytes=1000)
    with running(app) as url:
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps({"question": "x" * 3000}).encode()
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
            sock.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
            reply = sock.recv(65536).decode("utf-8", "replace")
    assert reply.startswith("HTTP/1.1 413") and "body_too_large" in reply


# ------------------------------------------------------------------------------------------------
# 3. host check
# ------------------------------------------------------------------------------------------------
def test_unknown_host_is_refused_in_the_api_shape():
    app = make_app()
    assert client_for(app).get("/healthz").status_code == 200
    assert TestClient(app, base_url="http://localhost").get("/healthz").status_code == 200
    evil = TestClient(app, base_url="http://attacker.example").get("/healthz")
    assert evil.status_code == 400 and error_shape(evil)["error"] == "invalid_host"


# ------------------------------------------------------------------------------------------------
# 4. POST /api/documents: token, classification, source, quotas
# ------------------------------------------------------------------------------------------------
DOC = {"title": "Bicycle parking", "text": "The bicycle garage opens at 06:30."}


def test_documents_are_disabled_without_a_configured_token():
    client = client_for(make_app(write_token=None))
    response = client.post("/api/documents", json=DOC, headers=AUTH)
    assert response.status_code == 403 and "GENAI_LAB_APP_TOKEN" in error_shape(response)["message"]


def test_a_confidential_document_teaches_the_router_at_once():
    app = make_app()
    client = client_for(app)
    question = "Search the latest news: the plan for the acquisition of Heron Ridge?"
    assert app.state.policy.classify(question).route == "external"
    doc = {"title": "Heron Ridge acquisition plan", "text": "Heron Ridge will be bought in Q3 for 40 million EUR.",
           "classification": "confidential"}
    response = client.post("/api/documents", json=doc, headers=AUTH)
    assert response.status_code == 201 and response.json()["sensitive_terms_added"] >= 1
    assert app.state.policy.classify(question).route == "internal"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-1"}, {"Authorization": TOKEN}])
def test_documents_need_the_token(headers):
    client = client_for(make_app())
    response = client.post("/api/documents", json=DOC, headers=headers)
    assert response.status_code == 401 and error_shape(response)["error"] == "unauthorized"
    assert client.get("/healthz").json()["index_chunks"] == len(DOCS)


@pytest.mark.parametrize(
    ("extra", "status", "needle"),
    [
        ({"classification": "top-secret"}, 422, "public, internal, confidential"),
        ({"source": "../../etc/passwd"}, 422, "plain file name"),
        ({"source": "legal/warranty.pdf"}, 422, "plain file name"),  # cannot name (shadow) a KB document
        ({"source": "a" * 101}, 422, "plain file name"),
        ({"source": "x\u202e.md"}, 422, "plain file name"),
        ({"text": "é" * 60}, 413, "limit is 100"),  # 120 bytes of UTF-8
    ],
)
def test_documents_are_validated(extra, status, needle):
    client = client_for(make_app(max_document_bytes=100))
    response = client.post("/api/documents", json={**DOC, **extra}, headers=AUTH)
    assert response.status_code == status and needle in error_shape(response)["message"]


def test_documents_cannot_shadow_and_respect_the_total_quota():
    client = client_for(make_app(max_added_bytes=80))
    first = client.post("/api/documents", json={**DOC, "source": "added/garage.md"}, headers=AUTH)
    assert first.status_code == 201 and first.json()["source"] == "added/garage.md"
    again = client.post("/api/documents", json={**DOC, "source": "garage.md"}, headers=AUTH)
    assert again.status_code == 409 and "exists already" in error_shape(again)["message"]
    same_title = client.post("/api/documents", json=DOC, headers=AUTH)  # a free name is chosen
    assert same_title.status_code == 201 and same_title.json()["source"] == "added/bicycle-parking.md"
    over = client.post("/api/documents", json={**DOC, "source": "third.md"}, headers=AUTH)
    assert over.status_code == 413 and error_shape(over)["error"] == "quota_exceeded"


# ------------------------------------------------------------------------------------------------
# 5. slow clients are cut off
# ------------------------------------------------------------------------------------------------
def _slow_client(port: int, kind: str, out: dict) -> None:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=6) as sock:
        received = b""
        try:
            if kind == "head":  # the head a few bytes at a time, never finished
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                for _ in range(20):
                    time.sleep(0.2)
                    sock.sendall(b"X-Slow: 1\r\n")
            elif kind == "body":  # a complete head, then a body that never arrives in full
                sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"question\"")  # fmt: skip
            while chunk := sock.recv(4096):  # "silent" sends nothing at all
                received += chunk
        except OSError:  # the server closed the connection while we were still sending
            received += b"<closed while sending>"
        out[kind] = (time.perf_counter() - start, received.decode("utf-8", "replace"))


def test_slowloris_connections_are_cut_off():
    app = make_app(header_timeout_s=0.5, body_timeout_s=0.5, keep_alive_s=1)
    out: dict = {}
    with running(app) as url:
        port = int(url.rsplit(":", 1)[1])
        threads = [threading.Thread(target=_slow_client, args=(port, kind, out)) for kind in ("silent", "head", "body")]
        for t in threads:
            t.start()
        time.sleep(0.2)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # others are still served
        for t in threads:
            t.join(8)
    assert set(out) == {"silent", "head", "body"}, out
    for kind, (seconds, _) in out.items():
        assert seconds < 3.0, f"{kind}: connection held {seconds:.1f} s"
    assert out["silent"][1].startswith("HTTP/1.1 408") and "header_timeout" in out["silent"][1]
    assert "header_timeout" in out["head"][1] or out["head"][1] == "<closed while sending>"
    assert out["body"][1].startswith("HTTP/1.1 408") and "body_timeout" in out["body"][1]


# ------------------------------------------------------------------------------------------------
# 6. smaller items
# ------------------------------------------------------------------------------------------------
def test_abandoned_stream_cancels_generation():
    app = make_app(delay=0.05)
    llm = app.state.models["internal"].llm
    with running(app) as url:
        with httpx.stream("POST", f"{url}/api/chat", json={"question": "How many days of annual leave?"}) as response:
            for line in response.iter_lines():
                if line.startswith("event: token"):
                    break
        deadline = time.monotonic() + 5
        while app.state.metrics.snapshot()["chat"].get("cancelled") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.15)  # the word in flight when the cancel landed (delay 0.05 s) may still be counted
        produced = llm.words_streamed
        time.sleep(0.3)
        assert llm.words_streamed == produced < 8  # stopped: the whole answer has 11 words
    assert app.state.metrics.snapshot()["chat"] == {"cancelled": 1} and app.state.gate.admitted == 0


class LeakyBackend(FakeChatModel):
    def answer(self, messages):  # type: ignore[no-untyped-def]
        raise ConnectionError(f"https://api.example.com/v1?api_key={SECRET} refused the connection")


def test_exception_text_never_reaches_the_client():
    app = make_app()
    app.state.models["internal"].llm = LeakyBackend()
    client = client_for(app)
    response = client.post("/api/chat", json={"question": "Project Kestrel?"}, headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    (_, error) = events(response)[-1]
    assert SECRET not in response.text and "abc-123" in error["message"]

    def explode(*args, **kwargs):
        raise RuntimeError(f"database password {SECRET}")

    app.state.service.validate = explode  # an unexpected bug anywhere in a route
    crashed = client.post("/api/chat", json={"question": "hi"})
    assert crashed.status_code == 500 and SECRET not in crashed.text
    payload = error_shape(crashed)
    assert payload["error"] == "internal_error" and crashed.headers["x-request-id"] in payload["message"]


def test_undecodable_file_name_in_citations_still_ends_with_citations_and_done():
    chunks = [Document(page_content=text, metadata={"source": src, "page": page, "section": section, "title": src,
                                                    "classification": cls}) for src, page, section, cls, text in DOCS]
    odd = b"legal/garantie-\xe9t\xe9.pdf".decode("utf-8", "surrogateescape")  # a Latin-1 name on disk
    chunks[0].metadata["source"] = chunks[0].metadata["title"] = odd
    index = KnowledgeIndex.from_chunks(chunks, embedding=HashingEmbeddings())
    client = client_for(make_app(index=index))
    evs = events(client.post("/api/chat", json={"question": "How long is the hardware warranty?"}))
    assert [n for n, _ in evs][-2:] == ["citations", "done"]
    assert evs[-2][1]["citations"][0]["source"] == "legal/garantie-\ufffdt\ufffd.pdf"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/chat", {}, 405),
        ("DELETE", "/healthz", {}, 405),
        ("GET", "/nope", {}, 404),
        ("POST", "/api/chat", {"data": {"question": "form, not JSON"}}, 422),
        ("POST", "/api/documents", {"content": b"\xff", "headers": {**AUTH, "content-type": "application/json"}}, 400),
        ("POST", "/api/documents", {"json": {"title": 1}, "headers": AUTH}, 422),
        ("GET", "/metrics?format=xml", {}, 200),
    ],
)
def test_invalid_input_always_gets_error_and_message(method, path, kwargs, status):
    response = client_for(make_app()).request(method, path, **kwargs)
    assert response.status_code == status
    if status >= 400:
        assert "detail" not in response.text
        error_shape(response)


def test_page_has_csp_and_frame_headers():
    response = client_for(make_app()).get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "'sha256-" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert "style=" not in response.text  # inline style attributes would be blocked by the policy


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--max-concurrency", "-1"], "--max-concurrency must be >= 1"),
        (["--max-concurrency", "0"], "--max-concurrency must be >= 1"),
        (["--fake-delay", "-1"], "--fake-delay must be >= 0"),
        (["--max-queue", "-2"], "--max-queue must be >= 0"),
        (["--port", "x"], "'x' is not a number"),
    ],
)
def test_cli_rejects_bad_numbers_with_a_clear_message(argv, needle, capsys):
    from genai_lab.app.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_every_response_has_a_request_id_that_reaches_the_audit_log(tmp_path, caplog):
    import logging

    from genai_lab.app.fake import HashingEmbeddings as _  # noqa: F401  (the index is the tests' one)
    from genai_lab.app.service import create_app

    app = make_app()
    audited = create_app(app.state.index, app.state.models, policy=app.state.policy, config=app.state.config,
                         audit_log=tmp_path / "audit.jsonl")  # fmt: skip
    client = client_for(audited)
    with caplog.at_level(logging.INFO, logger="genai_lab.app"):
        ids = {client.get(path).headers["x-request-id"] for path in ("/healthz", "/nope", "/metrics")}
        chat = client.post("/api/chat", json={"question": "warranty?"})
    assert len(ids) == 3 and all(len(i) == 32 for i in ids)
    rid = chat.headers["x-request-id"]
    (record,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert record["request_id"] == rid and record["outcome"] == "ok"
    assert rid in caplog.text  # the server log names it too
    bogus = client.get("/healthz", headers={"X-Request-ID": "no spaces\tor tabs"}).headers["x-request-id"]
    assert bogus != "no spaces\tor tabs" and len(bogus) == 32
