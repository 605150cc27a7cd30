"""HTTP fuzzing of the service (fake models, in-process ASGI): random methods, paths, headers and bodies.

Whatever comes in, the service never answers 5xx, and every 4xx is ``{"error", "message"}``. Bounded:
a fixed number of examples, and hypothesis stops early at ~20 s of generation (``deadline=None`` per
example, the whole test kept short by ``max_examples``).
"""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_app_service import AUTH, client_for, make_app  # noqa: E402

BUDGET_S = 20.0
PATHS = ["/", "/healthz", "/metrics", "/metrics.json", "/api/chat", "/api/documents", "/api/chat/", "/docs",
         "/openapi.json", "/%00", "/api/../healthz", "/" + "a" * 300]  # fmt: skip
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
json_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"question": json_values}, optional={"adapter": json_values}),
    st.fixed_dictionaries({"question": st.text(max_size=200)}, optional={"adapter": st.sampled_from(["", "x"])}),
    st.fixed_dictionaries({"title": json_values, "text": json_values},
                          optional={"source": json_values, "classification": json_values}),
)  # fmt: skip
bodies = st.one_of(st.binary(max_size=300), json_bodies.map(lambda b: json.dumps(b).encode()))
headers = st.dictionaries(
    st.sampled_from(["content-type", "x-request-id", "authorization", "accept", "x-anything", "transfer-encoding"]),
    header_text, max_size=3,
)  # fmt: skip
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", ""])  # fmt: skip

APP = make_app(max_body_bytes=2_000, max_document_bytes=500, max_added_bytes=5_000)
CLIENT = client_for(APP)
STARTED: list[float] = []


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.sampled_from(METHODS), st.sampled_from(PATHS), headers, content_types, bodies, st.booleans())
def test_fuzz_never_5xx_and_4xx_has_error_and_message(method, path, extra, content_type, body, with_token):
    if not STARTED:
        STARTED.append(time.monotonic())
    if time.monotonic() - STARTED[0] > BUDGET_S:
        return  # keep the test bounded on a slow machine: the remaining examples pass trivially
    sent = {k: v for k, v in extra.items() if k != "transfer-encoding"}  # httpx sets framing itself
    if content_type:
        sent["content-type"] = content_type
    if with_token:
        sent.update(AUTH)
    response = CLIENT.request(method, path, content=body if method not in ("GET", "HEAD") else None, headers=sent)
    assert response.status_code < 500, (method, path, sent, body[:100], response.text[:300])
    if 400 <= response.status_code < 500 and method != "HEAD":
        payload = response.json()
        assert isinstance(payload, dict) and set(payload) == {"error", "message"}, payload
        assert isinstance(payload["message"], str) and payload["message"]
    assert response.headers.get("x-request-id")


def test_fuzzed_service_is_still_healthy():
    assert CLIENT.get("/healthz").status_code == 200
    assert CLIENT.post("/api/chat", json={"question": "warranty?"}).status_code == 200
