"""``asyncio.run`` that also works inside Jupyter, whose kernel already runs an event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine that ``factory()`` makes to completion and return its value.

    Outside a running loop this is ``asyncio.run``. Inside one (a notebook cell), ``asyncio.run``
    refuses, so the coroutine runs in a fresh loop on a worker thread while the caller waits; its
    exception, if any, is re-raised in the caller's thread. ``factory`` is called in the thread that
    runs the loop, so the coroutine is created where it is awaited.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="genai-lab-asyncio")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
