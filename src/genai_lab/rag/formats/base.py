"""What every format reader shares: the error it raises, the unit it returns, reading UTF-8 text."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Unit = tuple[str, dict[str, Any]]  # one document's text and its metadata


class DocumentLoadError(ValueError):
    """One file could not be loaded; the message names the file and what to do about it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def read_text(path: Path, source: str) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is dropped); not empty."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentLoadError(
            source, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8."
        ) from exc
    except OSError as exc:
        raise DocumentLoadError(
            source, f"the file cannot be read ({exc.strerror or exc}); check its permissions."
        ) from exc
    if not text.strip():
        raise DocumentLoadError(source, "the file holds only whitespace; add content or remove it.")
    return text


@contextlib.contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    """Silence a library's log warnings for the duration of the block."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def describe(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` of an exception, the message cut to ``limit`` characters."""
    message = " ".join(str(exc).split())
    if len(message) > limit:
        message = message[:limit] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
