"""The request bodies of the API and the cleaning of user text."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ChatRequest(BaseModel):
    """The body of ``POST /api/chat``."""

    model_config = ConfigDict(extra="ignore")
    question: str
    adapter: str | None = None


class DocumentRequest(BaseModel):
    """The body of ``POST /api/documents``."""

    model_config = ConfigDict(extra="ignore")
    title: str
    text: str
    source: str | None = None
    classification: str = "internal"


def fix_surrogates(text: str) -> str:
    """Lone surrogates (which cannot be encoded as UTF-8) become U+FFFD; valid pairs their character."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_text(text: str) -> str:
    """Make user text safe to process and to send back: lone surrogates (which cannot be encoded
    as UTF-8) become U+FFFD, valid surrogate pairs become their character, and control characters
    other than tab and newline (NUL included) are removed. Emoji and right-to-left text are kept."""
    return _CONTROL.sub("", fix_surrogates(text))
