"""Admission control: at most ``concurrency`` answers at once, ``queue`` more waiting, the rest refused.

A request first takes a place (:meth:`AdmissionGate.try_admit`, refused when ``concurrency + queue``
are taken: the caller answers 429), then waits for an answer slot (:meth:`AdmissionGate.acquire`, at
most ``timeout`` seconds: the caller answers 503). A :class:`Ticket` releases its place exactly once,
whichever of the stream's end, a disconnect or a failure comes first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class AdmissionGate:
    """``concurrency`` requests run, ``queue`` wait, the rest are refused."""

    def __init__(self, concurrency: int, queue: int) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError(f"max_concurrency must be >= 1 and max_queue >= 0, got {concurrency}, {queue}.")
        self.concurrency, self.queue = concurrency, queue
        self.admitted = 0  # running + waiting
        self.waiting = 0
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:  # a new event loop (tests): a new semaphore
            self._sem, self._loop = asyncio.Semaphore(self.concurrency), loop
        return self._sem

    @property
    def running(self) -> int:
        return self.admitted - self.waiting

    def try_admit(self) -> bool:
        """Take a place (running or waiting); ``False`` when all are taken."""
        if self.admitted >= self.concurrency + self.queue:
            return False
        self.admitted += 1
        return True

    async def acquire(self, timeout: float) -> bool:
        """Wait for an answer slot; on timeout (or cancellation) give the place back."""
        self.waiting += 1
        try:
            await asyncio.wait_for(self._semaphore().acquire(), timeout)
            return True
        except TimeoutError:
            self.admitted -= 1
            return False
        except asyncio.CancelledError:
            self.admitted -= 1
            raise
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self.admitted -= 1
        self._semaphore().release()


class Ticket:
    """An acquired answer slot; :meth:`release` is idempotent and runs ``on_release`` once."""

    def __init__(self, gate: AdmissionGate, on_release: Callable[[], None] | None = None) -> None:
        self._gate, self._on_release, self.released = gate, on_release, False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._gate.release()
            if self._on_release is not None:
                self._on_release()
