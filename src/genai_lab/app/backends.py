"""The models behind the service's routes: the real ones (SmolLM2, an external endpoint, LoRA adapters)
or the deterministic fakes of :mod:`genai_lab.app.fake`. Each :class:`~genai_lab.app.chat.ModelSlot`
names its backend, from which :meth:`~genai_lab.app.config.AppConfig.for_backend` takes the limits.

The service streams with ``astream``. A vLLM server (``ChatOpenAI``) and the fakes stream natively
asynchronously, so a cancelled request stops them at once. An in-process ``transformers`` pipeline has
no async API (``ChatHuggingFace``'s async path needs an inference endpoint), so :func:`threaded` bridges
it: one producer thread runs the synchronous stream and hands each piece to the event loop; when the
request ends or is cancelled the producer stops at the next piece and closes the model's stream in its
own thread (which also releases an adapter switch held by :func:`genai_lab.app.adapters.switched`).

Several vLLM servers (``$GENAI_LAB_VLLM_URLS``, comma-separated; :func:`~genai_lab.app.config.vllm_urls`)
become one :class:`~genai_lab.app.balance.LeastOutstandingBalancer` (:func:`vllm_balancer`), which the
routes and adapter slots use like one chat model. One server (``$GENAI_LAB_VLLM_URL``) works as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from genai_lab.app.chat import ModelSlot

_DONE = object()
log = logging.getLogger("genai_lab.app")


def threaded(chat: Any, name: str = "threaded") -> Any:
    """``chat`` (a runnable that streams only synchronously) as a runnable that also streams
    asynchronously, through one producer thread per request; see the module docstring."""
    from langchain_core.runnables import RunnableGenerator

    def transform(inputs: Iterator[Any]) -> Generator[Any, None, None]:
        yield from chat.transform(inputs)

    async def atransform(inputs: AsyncIterator[Any]) -> AsyncIterator[Any]:
        items = [item async for item in inputs]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
        stop = threading.Event()

        def hand_over(item: Any, exc: BaseException | None = None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (item, exc))
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                stop.set()

        def produce() -> None:
            stream = transform(iter(items))
            try:
                for item in stream:
                    if stop.is_set():
                        break
                    hand_over(item)
            except BaseException as exc:  # handed to the request, which reports it
                hand_over(None, exc)
                return
            finally:
                stream.close()  # in this thread: the model's stream (and any adapter switch) is released here
            hand_over(_DONE)

        threading.Thread(target=produce, name=f"{name}-producer", daemon=True).start()
        try:
            while True:
                item, exc = await queue.get()
                if exc is not None:
                    raise exc
                if item is _DONE:
                    return
                yield item
        finally:
            stop.set()

    return RunnableGenerator(transform, atransform, name=name)


def vllm_balancer(urls: Sequence[str], max_new_tokens: int = 64, model: str | None = None) -> Any:
    """A :class:`~genai_lab.app.balance.LeastOutstandingBalancer` over one ``ChatOpenAI`` per vLLM
    server in ``urls`` (``model``: the served model or LoRA module; default as
    :func:`~genai_lab.rag.llm.get_chat_model` picks it). A server that does not answer now is left out,
    with a warning naming it; ``ConnectionError`` when none answers."""
    from genai_lab.app.balance import LeastOutstandingBalancer
    from genai_lab.rag.llm import get_chat_model

    models, names, missing = [], [], []
    for url in urls:
        try:
            models.append(get_chat_model(backend="vllm", base_url=url, max_new_tokens=max_new_tokens, model=model))
            names.append(url)
        except ConnectionError:
            missing.append(url)
    if missing:
        log.warning("vLLM servers not answering, left out of the balancer: %s", ", ".join(missing))
    if not models:
        raise ConnectionError(f"None of the vLLM servers answers: {', '.join(urls)}. Start them, or unset the URLs.")
    return LeastOutstandingBalancer(models, names)


def default_models(
    max_new_tokens: int = 64,
    base_url: str | None = None,
    adapters: Mapping[str, Path] | None = None,
    base_urls: Sequence[str] | None = None,
    in_process: bool = False,
) -> tuple[dict[str, ModelSlot], dict[str, ModelSlot]]:
    """The models behind the routes, and the per-request adapters.

    The internal model is SmolLM2: balanced across the vLLM servers of ``base_urls`` (default
    ``$GENAI_LAB_VLLM_URLS``) when there are several and any answers; else the vLLM server at
    ``base_url`` (or ``$GENAI_LAB_VLLM_URL``) if it answers; else in-process transformers. The
    external one is the router's external endpoint when
    ``GENAI_LAB_EXTERNAL_URL``/``_MODEL`` are set (see :class:`~genai_lab.serving.router.RouterConfig`);
    offline it is the same SmolLM2, playing the hosted model, as in notebook 23. ``adapters``
    (``{name: LoRA folder}``) become adapter slots on the same base (:mod:`genai_lab.app.adapters`),
    balanced too when the base is. ``in_process``: SmolLM2 in this process whatever the URLs say
    (``--in-process``, or the fallback when the app's own vLLM server did not start)."""
    import os

    from genai_lab.app.config import vllm_urls
    from genai_lab.rag.llm import get_chat_model
    from genai_lab.serving.router import EXTERNAL, Endpoint

    urls = [] if in_process else list(base_urls) if base_urls is not None else vllm_urls()
    if len(urls) == 1:
        base_url, urls = urls[0], []
    llm: Any = None
    if urls:
        try:
            llm = vllm_balancer(urls, max_new_tokens)
        except ConnectionError as exc:
            log.warning("%s Falling back to one server or in-process SmolLM2.", exc)
    if llm is not None:
        backend = "vllm"
        urls = [r.name for r in llm.replicas]  # the servers that answered
    else:
        urls = []
        choice = "transformers" if in_process else "auto"
        llm = get_chat_model(backend=choice, base_url=base_url, max_new_tokens=max_new_tokens)
        backend = str(llm.backend)
    base: Any = llm
    adapter_slots: dict[str, ModelSlot] = {}
    if adapters and backend == "transformers":
        from genai_lab.app.adapters import AdapterSwitch, switched

        switch = AdapterSwitch.load(llm.llm.pipeline.model, adapters)
        base = switched(llm, switch, None)  # plain requests run with the adapters switched off
        for name in adapters:
            label = f"internal: SmolLM2 + LoRA adapter '{name}' ({backend})"
            adapter_slots[name] = ModelSlot(threaded(switched(llm, switch, name), f"adapter:{name}"), label, backend)
    elif adapters:  # vLLM switches LoRA adapters itself: the adapter's name is the model name
        for name in adapters:
            if urls:
                chat = vllm_balancer(urls, max_new_tokens, model=name)
            else:
                chat = get_chat_model(backend="vllm", base_url=base_url, max_new_tokens=max_new_tokens, model=name)
            adapter_slots[name] = ModelSlot(chat, f"internal: SmolLM2 + LoRA adapter '{name}' (vllm)", "vllm")
    if backend == "transformers":  # no async API in-process: bridge the synchronous stream
        base = threaded(base, "smollm2-in-process")
    servers = f", {len(urls)} servers" if urls else ""
    reader = " + grounded-reader LoRA" if getattr(llm, "reader", "base") == "reader" else ""
    internal = ModelSlot(base, f"internal: SmolLM2-135M-Instruct{reader} ({backend}{servers})", backend)
    url, model = os.environ.get("GENAI_LAB_EXTERNAL_URL"), os.environ.get("GENAI_LAB_EXTERNAL_MODEL")
    if url and model:
        endpoint = Endpoint(EXTERNAL, url, model, os.environ.get("GENAI_LAB_EXTERNAL_API_KEY_ENV"))
        external = ModelSlot(endpoint.chat_model(max_tokens=max_new_tokens), f"external: {model} at {url}", "external")
    else:
        external = ModelSlot(base, f"external: SmolLM2 playing the hosted model, offline ({backend})", backend)
    return {"internal": internal, "external": external}, adapter_slots


def fake_models(delay: float = 0.0) -> dict[str, ModelSlot]:
    """Two deterministic fake models (:class:`~genai_lab.app.fake.FakeChatModel`)."""
    from genai_lab.app.fake import FakeChatModel

    if delay < 0:
        raise ValueError(f"The fake model's delay must be >= 0 seconds per word, got {delay}.")
    return {
        route: ModelSlot(FakeChatModel(name_label=f"{route}-fake", delay=delay), f"{route}: fake model (tests)", "fake")
        for route in ("internal", "external")
    }
