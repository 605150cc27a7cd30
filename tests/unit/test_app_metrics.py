"""/metrics in Prometheus text format (prometheus_client), /metrics.json as the JSON view."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from test_app_service import client_for, make_app  # noqa: E402

from genai_lab.app.metrics import Metrics  # noqa: E402


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_prometheus_text_counts_by_path_status_route_and_outcome():
    client = client_for(make_app())
    client.post("/api/chat", json={"question": "How long is the warranty?"})
    client.post("/api/chat", json={"question": "What is the latest news today?"})
    client.post("/api/chat", json={"question": ""})
    client.get("/nope/1")
    client.get("/nope/2")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("genai_lab_app_http_requests_total", (("path", "/api/chat"), ("status", "200")))] == 2
    assert got[("genai_lab_app_http_requests_total", (("path", "/api/chat"), ("status", "422")))] == 1
    assert got[("genai_lab_app_http_requests_total", (("path", "other"), ("status", "404")))] == 2  # bounded labels
    assert got[("genai_lab_app_chat_requests_total", (("outcome", "ok"), ("route", "internal")))] == 1
    assert got[("genai_lab_app_chat_requests_total", (("outcome", "ok"), ("route", "external")))] == 1
    assert got[("genai_lab_app_chat_requests_total", (("outcome", "invalid"), ("route", "none")))] == 1
    assert got[("genai_lab_app_chat_latency_seconds_count", (("route", "internal"),))] == 1
    assert got[("genai_lab_app_queue_depth", ())] == 0 and got[("genai_lab_app_in_flight", ())] == 0
    backend = ("genai_lab_app_backend_info", (("backend", "fake"), ("model", "internal: fake"), ("route", "internal")))
    assert got[backend] == 1
    assert got[("genai_lab_app_resident_memory_bytes", ())] > 0 and got[("genai_lab_app_index_chunks", ())] == 4


def test_json_view_and_format_parameter_agree():
    client = client_for(make_app())
    client.post("/api/chat", json={"question": "warranty?"})
    a, b = client.get("/metrics.json").json(), client.get("/metrics?format=json").json()
    for snap in (a, b):
        assert snap["chat"] == {"ok": 1} and snap["admitted"] == 0 and snap["rss_bytes"] > 0
        assert set(snap["latency_ms"]) == {"count", "p50", "p99", "first_token_p50"}


def test_percentiles_are_the_package_percentile():
    m = Metrics()
    for ms in (10.0, 20.0, 30.0, 40.0):
        m.count_chat("ok", "internal", latency_ms=ms)
    lat = m.snapshot()["latency_ms"]
    assert (lat["count"], lat["p50"]) == (4, 25.0)  # linear interpolation (numpy), not nearest rank (20)
    assert lat["p99"] == pytest.approx(39.7)


def test_two_apps_do_not_share_counts():
    one, two = client_for(make_app()), client_for(make_app())
    one.get("/healthz")
    assert "200" not in two.get("/metrics.json").json()["requests_by_status"]
