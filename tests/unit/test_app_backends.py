"""genai_lab.app.backends: the bridge that lets a synchronous-only model (in-process transformers)
stream through ``astream``, stop when the request is cancelled, and report its errors."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from genai_lab.app.backends import fake_models, threaded
from genai_lab.app.fake import FakeChatModel


class SyncOnly(FakeChatModel):
    """Like ChatHuggingFace over a local pipeline: a synchronous stream, a broken async one."""

    closed: list = []
    produced: list = []
    boom: bool = False

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        try:
            for i in range(20):
                if self.boom and i == 2:
                    raise ConnectionError("backend down")
                time.sleep(0.02)
                self.produced.append(i)
                yield ChatGenerationChunk(message=AIMessageChunk(content=f"w{i} "))
        finally:
            self.closed.append(threading.current_thread().name)

    async def _astream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AttributeError("'HuggingFacePipeline' object has no attribute 'async_client'")
        yield  # pragma: no cover


async def _collect(runnable, limit=None):  # type: ignore[no-untyped-def]
    out = []
    stream = runnable.astream("question")
    async for chunk in stream:
        out.append(chunk.content)
        if limit and len(out) >= limit:
            break
    await stream.aclose()
    return out


def test_sync_only_model_streams_asynchronously_through_the_bridge():
    model = SyncOnly(closed=[], produced=[])
    with pytest.raises(AttributeError, match="async_client"):
        asyncio.run(_collect(model))
    pieces = asyncio.run(_collect(threaded(model, "bridge")))
    assert "".join(pieces) == "".join(f"w{i} " for i in range(20))
    assert model.closed[-1].startswith("bridge-producer")  # closed in the producer's own thread


def test_cancelled_request_stops_the_producer_and_closes_the_model_stream():
    model = SyncOnly(closed=[], produced=[])
    model.closed.clear()
    assert asyncio.run(_collect(threaded(model), limit=2)) == ["w0 ", "w1 "]
    deadline = time.monotonic() + 5
    while not model.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert model.closed, "the model's stream was not closed after the request ended"
    produced = len(model.produced)
    time.sleep(0.2)
    assert len(model.produced) == produced < 6  # stopped right after the consumer left (20 otherwise)


def test_model_errors_reach_the_request():
    model = SyncOnly(closed=[], produced=[], boom=True)
    with pytest.raises(ConnectionError, match="backend down"):
        asyncio.run(_collect(threaded(model)))


def test_fake_models_name_their_backend_and_reject_a_negative_delay():
    models = fake_models(0.0)
    assert {slot.backend for slot in models.values()} == {"fake"}
    with pytest.raises(ValueError, match=">= 0"):
        fake_models(-1.0)
