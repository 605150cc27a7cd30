"""genai_lab.app.balance: least outstanding requests first, failover only for requests not sent, counters;
and its wiring (``$GENAI_LAB_VLLM_URLS``, ``AppConfig.for_backend(replicas=...)``, ``default_models``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from genai_lab.app.balance import EndpointUnavailable, LeastOutstandingBalancer, is_connection_error, not_sent
from genai_lab.app.config import VLLM_URLS_ENV, AppConfig, vllm_urls
from genai_lab.app.fake import FakeChatModel


class Server(BaseChatModel):
    """One replica: answers "<label> says hello there", word by word. ``refuse``: the connection is
    refused (nothing sent); ``die_after``: the connection drops after that many words (sent);
    ``hold``: an ``asyncio.Event`` each async answer waits for; ``calls`` counts requests received."""

    label: str
    refuse: bool = False
    die_after: int | None = None
    hold: Any = None
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "test-server"

    def _words(self) -> list[str]:
        if self.refuse:
            raise ConnectionRefusedError(111, "Connection refused")
        self.calls += 1
        return f"{self.label} says hello there".split()

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        words = self._words()
        if self.die_after is not None:
            raise ConnectionResetError(104, "Connection reset by peer")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=" ".join(words)))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        for i, word in enumerate(self._words()):
            if i == self.die_after:
                raise ConnectionResetError(104, "Connection reset by peer")
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        words = self._words()
        if self.hold is not None:
            await self.hold.wait()
        for i, word in enumerate(words):
            await asyncio.sleep(0)
            if i == self.die_after:
                raise ConnectionResetError(104, "Connection reset by peer")
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def balancer(*servers: Server, **kwargs: Any) -> LeastOutstandingBalancer:
    return LeastOutstandingBalancer(list(servers), names=[s.label for s in servers], **kwargs)


async def answer(runnable: Any, question: str = "hi") -> str:
    return "".join([str(chunk.content) async for chunk in runnable.astream(question)])


def in_flight(b: LeastOutstandingBalancer) -> list[int]:
    return [r.in_flight for r in b.replicas]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


# ---- the choice ------------------------------------------------------------------------------------
def test_concurrent_request_goes_to_the_replica_with_fewest_in_flight():
    async def scenario() -> None:
        servers = [Server(label=f"s{i}", hold=asyncio.Event()) for i in range(3)]
        b = balancer(*servers)
        first = [asyncio.create_task(answer(b)) for _ in range(3)]
        await settle()
        assert in_flight(b) == [1, 1, 1]  # picked at once, each sees the others' choice
        servers[1].hold.set()
        assert (await first[1]).startswith("s1 says")
        servers[1].hold = asyncio.Event()
        late = asyncio.create_task(answer(b))
        await settle()
        assert in_flight(b) == [1, 1, 1]  # to s1, the idle one (round robin would have picked s0)
        for server in servers:
            server.hold.set()
        assert (await asyncio.wait_for(late, 5)).startswith("s1 says")
        await asyncio.gather(*first)
        assert b.requests_per_server == [1, 2, 1] and in_flight(b) == [0, 0, 0]

    asyncio.run(scenario())


def test_ties_go_round_robin_in_order():
    b = balancer(*(Server(label=f"s{i}") for i in range(3)))
    answers = [str(b.invoke("hi").content).split()[0] for _ in range(7)]
    assert answers == ["s0", "s1", "s2", "s0", "s1", "s2", "s0"]
    assert b.requests_per_server == [3, 2, 2]


def test_concurrent_requests_spread_evenly_through_a_rag_style_chain():
    from genai_lab.rag.chain import grounded_prompt

    models = [FakeChatModel(name_label=f"fake-{i}", delay=0.01) for i in range(2)]
    b = LeastOutstandingBalancer(models, names=["a", "b"])
    chain = grounded_prompt() | b | StrOutputParser()

    async def one(i: int) -> str:
        return "".join([piece async for piece in chain.astream({"context": "", "question": f"q{i}"})])

    async def run() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(8)))

    assert asyncio.run(run()) == ["I don't know."] * 8
    assert b.requests_per_server == [4, 4]
    assert sum(m.words_streamed for m in models) == 8 * 3  # each answer streamed once: "I don't know."


# ---- failover --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["invoke", "ainvoke", "stream", "astream"])
def test_refused_request_goes_to_another_replica_and_the_replica_cools_off(method):
    clock = Clock()
    down, up = Server(label="down", refuse=True), Server(label="up")
    b = balancer(down, up, cooloff_s=10.0, clock=clock)

    def call() -> str:
        if method == "invoke":
            return str(b.invoke("hi").content)
        if method == "ainvoke":
            return str(asyncio.run(b.ainvoke("hi")).content)
        if method == "stream":
            return "".join(str(c.content) for c in b.stream("hi"))
        return asyncio.run(answer(b))

    assert call().startswith("up says")
    stats = {s["name"]: s for s in b.stats()}
    assert stats["down"]["refused"] == 1 and stats["down"]["down"] and stats["down"]["served"] == 0
    call()  # within the cool-off the refusing replica is not tried first
    assert b.replicas[0].refused == 1 and b.requests_per_server == [0, 2]
    clock.now += 11
    call()  # after the cool-off it is picked again (it is idle and first), refuses, and the request moves on
    assert b.replicas[0].refused == 2 and b.requests_per_server == [0, 3] and in_flight(b) == [0, 0]


def test_every_replica_refusing_raises_a_clear_error():
    b = balancer(Server(label="a", refuse=True), Server(label="b", refuse=True))
    with pytest.raises(EndpointUnavailable, match="a: not sent"):
        b.invoke("hi")
    assert [r.refused for r in b.replicas] == [1, 1] and in_flight(b) == [0, 0]


def test_refused_connection_of_the_real_openai_client_fails_over():
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from genai_lab.serving.process import free_port

    closed = ChatOpenAI(
        model="smollm2", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=SecretStr("EMPTY"), max_retries=0
    )
    with pytest.raises(Exception) as caught:
        closed.invoke("hi")
    assert not_sent(caught.value), f"{caught.value!r} was not seen as 'not sent'"
    b = LeastOutstandingBalancer([closed, Server(label="up")], names=["closed", "up"])
    assert asyncio.run(answer(b)).startswith("up says")
    assert [r.refused for r in b.replicas] == [1, 0] and b.requests_per_server == [0, 1]


# ---- no retry once sent ----------------------------------------------------------------------------
def test_server_dying_mid_stream_fails_the_request_without_retry():
    dying, spare = Server(label="dying", die_after=2), Server(label="spare")
    b = balancer(dying, spare)
    got: list[str] = []

    async def read() -> None:
        async for chunk in b.astream("hi"):
            got.append(str(chunk.content))

    with pytest.raises(ConnectionResetError):
        asyncio.run(read())
    assert got == ["dying ", "says "]  # the partial answer, never spliced with another replica's
    assert spare.calls == 0 and b.replicas[0].failed == 1 and b.is_down(0)
    assert in_flight(b) == [0, 0]


def test_server_dying_during_invoke_is_not_retried():
    dying, spare = Server(label="dying", die_after=0), Server(label="spare")
    b = balancer(dying, spare)
    with pytest.raises(ConnectionResetError):
        b.invoke("hi")
    assert spare.calls == 0 and [r.failed for r in b.replicas] == [1, 0]


def test_other_errors_are_not_retried_and_leave_the_replica_up():
    class Broken(Server):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
            raise ValueError("bad request")

    spare = Server(label="spare")
    b = LeastOutstandingBalancer([Broken(label="broken"), spare])
    with pytest.raises(ValueError, match="bad request") as caught:
        b.invoke("hi")
    assert caught.value.__cause__ is None  # the model's own exception, re-raised unchanged
    assert spare.calls == 0 and b.replicas[0].failed == 1 and not b.is_down(0)


def test_openai_client_errors_are_classified():
    import httpx
    import openai

    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    refused = openai.APIConnectionError(request=request)
    refused.__cause__ = httpx.ConnectError("All connection attempts failed")
    lost = openai.APIConnectionError(request=request)
    lost.__cause__ = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    slow = openai.APITimeoutError(request=request)
    slow.__cause__ = httpx.ReadTimeout("timed out")
    assert not_sent(refused) and is_connection_error(refused)
    assert not not_sent(lost) and is_connection_error(lost)  # sent: marked down, never retried
    assert not not_sent(openai.APIConnectionError(request=request))  # cause unknown: assume it was sent
    assert not not_sent(slow) and not is_connection_error(slow)  # slow, not gone: stays up
    assert not_sent(httpx.ConnectTimeout("connect timed out")) and is_connection_error(httpx.ReadError("reset"))
    assert not is_connection_error(httpx.ReadTimeout("timed out")) and not not_sent(httpx.ReadError("reset"))


# ---- counting --------------------------------------------------------------------------------------
def test_a_stream_closed_early_is_no_longer_in_flight():
    b = balancer(Server(label="a"), Server(label="b"))

    async def stop_after_one() -> list[int]:
        stream = b.astream("hi")
        await anext(stream)  # type: ignore[call-overload]
        await stream.aclose()  # type: ignore[attr-defined]
        return in_flight(b)  # at once, though LangChain's fallbacks leave the inner stream to the finaliser

    assert asyncio.run(stop_after_one()) == [0, 0] and b.requests_per_server == [1, 0]
    sync = b.stream("hi")
    next(sync)
    assert in_flight(b) == [0, 1]
    sync.close()
    assert in_flight(b) == [0, 0] and b.requests_per_server == [1, 1]


def test_a_chain_stream_closed_early_is_released_when_its_request_ends():
    b = balancer(Server(label="a"), Server(label="b"))
    chain = b | StrOutputParser()

    async def request() -> None:
        stream = chain.astream("hi")
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]

    async def scenario() -> list[int]:
        await asyncio.create_task(request())  # one task per request, as in the app
        await settle()
        return in_flight(b)

    assert asyncio.run(scenario()) == [0, 0] and b.requests_per_server == [1, 0]


def test_a_cancelled_request_is_no_longer_in_flight():
    async def scenario() -> None:
        server = Server(label="a", hold=asyncio.Event())
        b = balancer(server)
        task = asyncio.create_task(answer(b))
        await settle()
        assert in_flight(b) == [1]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert in_flight(b) == [0]

    asyncio.run(scenario())


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="at least one chat model"):
        LeastOutstandingBalancer([])
    with pytest.raises(ValueError, match="one name per model"):
        LeastOutstandingBalancer([Server(label="a")], names=["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        LeastOutstandingBalancer([Server(label="a"), Server(label="b")], names=["x", "x"])


# ---- wiring ----------------------------------------------------------------------------------------
def test_vllm_urls_parse_the_comma_separated_setting(monkeypatch):
    monkeypatch.setenv(VLLM_URLS_ENV, " http://127.0.0.1:8000 , http://127.0.0.1:8001/v1,")
    assert vllm_urls() == ["http://127.0.0.1:8000", "http://127.0.0.1:8001/v1"]
    monkeypatch.delenv(VLLM_URLS_ENV)
    assert vllm_urls() == []
    with pytest.raises(ValueError, match="GENAI_LAB_VLLM_URLS.*comma-separated"):
        vllm_urls("127.0.0.1:8000,http://127.0.0.1:8001")
    with pytest.raises(ValueError, match="twice"):
        vllm_urls("http://127.0.0.1:8000,http://127.0.0.1:8000/v1")


def test_limits_grow_with_the_number_of_servers():
    one, three = AppConfig.for_backend("vllm"), AppConfig.for_backend("vllm", replicas=3)
    assert (three.max_concurrency, three.max_queue) == (3 * one.max_concurrency, 3 * one.max_queue)
    with pytest.raises(ValueError, match="replicas"):
        AppConfig.for_backend("vllm", replicas=0)


def test_default_models_balance_across_the_servers_that_answer(monkeypatch):
    import genai_lab.rag.llm as llm_module
    from genai_lab.app.backends import default_models

    calls: list[tuple[str | None, str | None, str]] = []

    def fake_get_chat_model(backend="auto", base_url=None, max_new_tokens=128, model=None, reader="auto"):  # type: ignore[no-untyped-def]
        calls.append((base_url, model, backend))
        if base_url and base_url.endswith(":3"):
            raise ConnectionError("no server")
        chat = Server(label=f"{base_url}|{model}")
        object.__setattr__(chat, "backend", "vllm")
        return chat

    monkeypatch.setattr(llm_module, "get_chat_model", fake_get_chat_model)
    monkeypatch.delenv("GENAI_LAB_EXTERNAL_URL", raising=False)
    urls = ["http://h:1", "http://h:2", "http://h:3"]
    models, adapters = default_models(base_urls=urls, adapters={"tone": None})  # type: ignore[dict-item]
    internal = models["internal"]
    assert isinstance(internal.llm, LeastOutstandingBalancer) and internal.backend == "vllm"
    assert [r.name for r in internal.llm.replicas] == ["http://h:1", "http://h:2"]  # :3 left out
    assert "2 servers" in internal.label
    tone = adapters["tone"].llm
    assert isinstance(tone, LeastOutstandingBalancer)
    assert [str(tone.invoke("x").content).split()[0] for _ in range(2)] == ["http://h:1|tone", "http://h:2|tone"]
    calls.clear()
    models, _ = default_models(base_urls=["http://h:9"])  # one URL: a plain chat model, as before
    assert calls == [("http://h:9", None, "auto")] and not isinstance(models["internal"].llm, LeastOutstandingBalancer)
