"""A lesson-sized load balancer: several chat models (one per vLLM server), least outstanding requests first.

::

    balancer = LeastOutstandingBalancer([chat_a, chat_b], names=["http://127.0.0.1:8000", "..."])
    chain = prompt | balancer | StrOutputParser()      # a Runnable like the chat model it replaces
    balancer.requests_per_server                       # [51, 49]

**The choice.** Each request goes to the replica with the fewest requests in flight (sent, answer not
finished). Ties go round robin, deterministically (the first replica after the one picked last). A
request in flight is counted from the moment the replica is picked until its ``invoke``/``ainvoke``
returns or raises, or its ``stream``/``astream`` ends, fails, is cancelled, or is closed early by the
caller. (Inside a LangChain chain, closing the *chain's* stream early does not close the steps inside
it; Python closes them when the request's task lets go of them. Cancelling the task, which is how the
app stops a request whose client left, closes everything at once.) Least outstanding beats plain
round robin when answers differ in length: a server busy with long answers gets fewer new requests.

**Failover.** The retry is LangChain's own :meth:`~langchain_core.runnables.Runnable.with_fallbacks`:
each request is a chain of attempts, each attempt picks the least-loaded replica not yet tried, and the
fallbacks handle exactly one exception, :class:`EndpointUnavailable`. An attempt raises it only when the
request **was not sent**: the connection was refused or could not be opened (:func:`not_sent`). Such a
replica is marked down for ``cooloff_s`` seconds (picked only when every other replica is down too).

A request that **was sent** is never retried: if its server dies mid-answer the error reaches the
caller (the replica is marked down too). A silent retry could run a request twice, and after part of a
stream has gone out it would splice two answers. ``with_fallbacks`` has the same rule for streams: it
retries only before the first chunk. (The OpenAI client under ``ChatOpenAI`` has its own retries, on the
same server, per its ``max_retries``.)

Counters per replica (:meth:`LeastOutstandingBalancer.stats`): ``in_flight``, ``served`` (answers
finished, including those the caller stopped reading), ``failed`` (errors after sending), ``refused``
(not sent: failed over to another replica). This is the teaching piece; in production a standard load
balancer (nginx ``least_conn``, Envoy ``LEAST_REQUEST``) in front of the servers does the same job, with
health checks; see ``docs/scaling.md``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["EndpointUnavailable", "LeastOutstandingBalancer", "Replica", "is_connection_error", "not_sent"]


class EndpointUnavailable(ConnectionError):
    """A request could not be sent to a replica (connection refused); the balancer tries another."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from (``__cause__``, else ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport(exc: BaseException, names: set[str]) -> bool:
    """Whether ``exc`` is one of the HTTP stack's transport errors called ``names`` (or a subclass of
    one), from ``httpx``/``httpcore`` or the forks some OpenAI client versions ship (``httpx2``, ...)."""
    module = type(exc).__module__.split(".")[0]
    return module.startswith(("httpx", "httpcore")) and any(c.__name__ in names for c in type(exc).__mro__)


def not_sent(exc: BaseException) -> bool:
    """Whether ``exc`` says the request never reached the server: the connection was refused or could
    not be opened (``ConnectionRefusedError``; the HTTP stack's ``ConnectError``/``ConnectTimeout``,
    which the OpenAI client wraps in ``APIConnectionError``). Such a request is safe to send elsewhere."""
    return any(
        isinstance(e, ConnectionRefusedError) or _transport(e, {"ConnectError", "ConnectTimeout"}) for e in _chain(exc)
    )


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the connection (refused, reset, closed mid-answer; the OpenAI
    client's ``APIConnectionError``): the replica is marked down. Other errors (a bad request, a read
    timeout: the server is slow, not gone) leave it up."""
    lost: tuple[type[BaseException], ...] = (ConnectionError,)
    slow: tuple[type[BaseException], ...] = ()
    try:
        import openai

        lost, slow = (ConnectionError, openai.APIConnectionError), (openai.APITimeoutError,)
    except ImportError:  # pragma: no cover - openai comes with langchain-openai
        pass
    names = {"ConnectError", "ConnectTimeout", "NetworkError", "RemoteProtocolError"}
    return any((isinstance(e, lost) and not isinstance(e, slow)) or _transport(e, names) for e in _chain(exc))


@dataclass
class Replica:
    """One endpoint: its chat model, its name (e.g. the server's URL) and its counters."""

    name: str
    model: Runnable[Any, Any]
    in_flight: int = 0
    served: int = 0
    failed: int = 0
    refused: int = 0
    down_until: float = 0.0


class _Lease:
    """One request's hold on one replica: taken when the replica is picked, given back exactly once."""

    def __init__(self, balancer: LeastOutstandingBalancer, index: int) -> None:
        self.balancer, self.index, self.open = balancer, index, True

    def release(self, outcome: str, exc: BaseException | None = None) -> None:
        self.balancer._release(self, outcome, exc)


class _Request:
    """The replicas one request has tried, and its leases (so that the outer stream can give back a
    lease whose inner stream LangChain left unclosed after the caller stopped reading)."""

    def __init__(self, balancer: LeastOutstandingBalancer) -> None:
        self.balancer = balancer
        self.tried: set[int] = set()
        self.leases: list[_Lease] = []

    def acquire(self) -> tuple[_Lease, Replica]:
        lease = self.balancer._acquire(self.tried)
        self.tried.add(lease.index)
        self.leases.append(lease)
        return lease, self.balancer.replicas[lease.index]

    def runnable(self) -> Runnable[LanguageModelInput, BaseMessage]:
        """One attempt per replica, chained by LangChain's fallbacks on :class:`EndpointUnavailable`."""
        attempts = [_Attempt(self) for _ in self.balancer.replicas]
        return attempts[0].with_fallbacks(attempts[1:], exceptions_to_handle=(EndpointUnavailable,))

    def close(self) -> None:
        for lease in self.leases:
            lease.release("served")  # a no-op for leases the attempt gave back itself


def _failure(lease: _Lease, replica: Replica, exc: Exception, sent_anything: bool) -> EndpointUnavailable | None:
    """Give back ``lease`` after ``exc``. When the request was not sent, the :class:`EndpointUnavailable`
    to raise (the fallbacks then try the next replica); else ``None``: the caller re-raises ``exc``."""
    if not sent_anything and not_sent(exc):
        lease.release("refused", exc)
        return EndpointUnavailable(f"{replica.name}: not sent ({type(exc).__name__}: {exc})")
    lease.release("failed", exc)
    return None


class _Attempt(Runnable[LanguageModelInput, BaseMessage]):
    """One try of one request: picks the least-loaded replica not yet tried, when it starts."""

    def __init__(self, request: _Request) -> None:
        self.request = request

    def invoke(self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        lease, replica = self.request.acquire()
        try:
            result: BaseMessage = replica.model.invoke(input, config, **kwargs)
        except Exception as exc:
            if (unavailable := _failure(lease, replica, exc, sent_anything=False)) is not None:
                raise unavailable from exc
            raise
        except BaseException:
            lease.release("served")  # KeyboardInterrupt and the like: the replica did nothing wrong
            raise
        lease.release("served")
        return result

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        lease, replica = self.request.acquire()
        try:
            result: BaseMessage = await replica.model.ainvoke(input, config, **kwargs)
        except Exception as exc:
            if (unavailable := _failure(lease, replica, exc, sent_anything=False)) is not None:
                raise unavailable from exc
            raise
        except BaseException:  # cancelled: the caller left
            lease.release("served")
            raise
        lease.release("served")
        return result

    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[BaseMessage]:
        lease, replica = self.request.acquire()
        started = False
        try:
            for chunk in replica.model.stream(input, config, **kwargs):
                started = True
                yield chunk
        except Exception as exc:
            if (unavailable := _failure(lease, replica, exc, sent_anything=started)) is not None:
                raise unavailable from exc
            raise
        finally:
            lease.release("served")  # the end, or the caller closed the stream early

    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[BaseMessage]:
        lease, replica = self.request.acquire()
        started = False
        try:
            async for chunk in replica.model.astream(input, config, **kwargs):
                started = True
                yield chunk
        except Exception as exc:
            if (unavailable := _failure(lease, replica, exc, sent_anything=started)) is not None:
                raise unavailable from exc
            raise
        finally:
            lease.release("served")


class LeastOutstandingBalancer(Runnable[LanguageModelInput, BaseMessage]):
    """Chat models behind one Runnable, least outstanding requests first; see the module docstring.

    Args:
        models: one chat model (any Runnable taking a prompt) per replica; at least one.
        names: a name per replica for the counters and errors (default ``replica-0``, ...).
        cooloff_s: how long a replica whose connection failed is picked only as a last resort.
        clock: the time source (seconds; injectable for tests).
    """

    def __init__(
        self,
        models: Sequence[Runnable[Any, Any]],
        names: Sequence[str] | None = None,
        cooloff_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not models:
            raise ValueError("LeastOutstandingBalancer needs at least one chat model (one per server).")
        names = list(names) if names is not None else [f"replica-{i}" for i in range(len(models))]
        if len(names) != len(models):
            raise ValueError(f"Got {len(models)} models but {len(names)} names; give one name per model.")
        if len(set(names)) != len(names):
            raise ValueError(f"Replica names must be unique (each server once), got {names}.")
        if cooloff_s < 0:
            raise ValueError(f"cooloff_s must be >= 0 seconds, got {cooloff_s}.")
        self.replicas = [Replica(name, model) for name, model in zip(names, models, strict=True)]
        self.cooloff_s = cooloff_s
        self.clock = clock
        self._next = 0  # round-robin cursor for ties
        self._lock = threading.Lock()  # sync streams may run in worker threads

    # -- choice and bookkeeping ----------------------------------------------------------------------
    def is_down(self, index: int) -> bool:
        """Whether replica ``index`` failed a connection less than ``cooloff_s`` seconds ago."""
        return self.replicas[index].down_until > self.clock()

    def _acquire(self, exclude: set[int]) -> _Lease:
        """Pick the replica to send to (not in ``exclude``) and count the request in flight there, under
        one lock, so that concurrent requests see each other's choice."""
        n = len(self.replicas)
        with self._lock:
            candidates = [i for i in range(n) if i not in exclude]
            if not candidates:  # pragma: no cover - there is one attempt per replica
                raise RuntimeError("every replica was tried for this request")
            best = min(candidates, key=lambda i: (self.is_down(i), self.replicas[i].in_flight, (i - self._next) % n))
            self._next = (best + 1) % n
            self.replicas[best].in_flight += 1
            return _Lease(self, best)

    def _release(self, lease: _Lease, outcome: str, exc: BaseException | None) -> None:
        with self._lock:
            if not lease.open:
                return
            lease.open = False
            replica = self.replicas[lease.index]
            replica.in_flight -= 1
            setattr(replica, outcome, getattr(replica, outcome) + 1)
            if exc is not None and is_connection_error(exc):
                replica.down_until = self.clock() + self.cooloff_s

    # -- the Runnable interface ----------------------------------------------------------------------
    def invoke(self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        request = _Request(self)
        try:
            return request.runnable().invoke(input, config, **kwargs)
        finally:
            request.close()

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        request = _Request(self)
        try:
            return await request.runnable().ainvoke(input, config, **kwargs)
        finally:
            request.close()

    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[BaseMessage]:
        request = _Request(self)
        stream = request.runnable().stream(input, config, **kwargs)
        try:
            yield from stream  # closing this generator closes ``stream`` too (PEP 380)
        finally:
            request.close()

    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[BaseMessage]:
        request = _Request(self)
        stream = request.runnable().astream(input, config, **kwargs)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            request.close()
            await stream.aclose()  # type: ignore[attr-defined]

    # -- counters ------------------------------------------------------------------------------------
    @property
    def requests_per_server(self) -> list[int]:
        """Requests each replica served, in the order given (``app.balance.requests_per_server.server<i>``)."""
        return [r.served for r in self.replicas]

    def stats(self) -> list[dict[str, Any]]:
        """Every replica's counters, e.g. for ``/healthz`` or a results file."""
        with self._lock:
            return [
                {"name": r.name, "in_flight": r.in_flight, "served": r.served, "failed": r.failed,
                 "refused": r.refused, "down": self.is_down(i)}
                for i, r in enumerate(self.replicas)
            ]  # fmt: skip

    def __repr__(self) -> str:
        return f"LeastOutstandingBalancer({[r.name for r in self.replicas]})"
