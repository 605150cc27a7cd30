"""Deterministic stand-ins for the two models behind the service, for tests and fast mode.

- :class:`FakeChatModel`: a LangChain chat model that answers from the prompt's first context
  passage, citing it as ``[1]``, word by word (so streaming shows), or "I don't know." when the
  prompt has no context. ``fail=True`` makes it raise, like a backend that is down. Its async stream
  waits with ``asyncio.sleep``, so cancelling the request stops it (``words_streamed`` counts the words
  it produced).
- :class:`HashingEmbeddings`: bag-of-words vectors (hashed word counts, normalised), so that
  retrieval by word overlap works without loading MiniLM.

Both are instant and give the same output on every run; the real service uses SmolLM2 and MiniLM.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

_PASSAGE = re.compile(r"\[1\] \([^)]*\)\n(.+?)(?:\n\n\[2\]|\Z)", re.S)


class BackendDown(ConnectionError):
    """Raised by :class:`FakeChatModel` when it plays a backend that is down."""


class FakeChatModel(BaseChatModel):
    """Answers with the first sentence of context passage [1] and cites it; see the module docstring."""

    name_label: str = "fake-llm"
    delay: float = 0.0  # seconds per streamed word
    fail: bool = False
    max_words: int = 24
    words_streamed: int = 0

    @property
    def _llm_type(self) -> str:
        return "genai-lab-fake"

    def answer(self, messages: list[BaseMessage]) -> str:
        if self.fail:
            raise BackendDown(f"{self.name_label} is down (FakeChatModel.fail=True).")
        prompt = "\n".join(str(m.content) for m in messages)
        match = _PASSAGE.search(prompt)
        if not match:
            return "I don't know."
        first = re.split(r"(?<=[.!?])\s", " ".join(match.group(1).split()), maxsplit=1)[0]
        words = first.split()[: self.max_words]
        return " ".join(words).rstrip(".") + ". [1]"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.answer(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        words = self.answer(messages).split(" ")
        for i, word in enumerate(words):
            if self.delay:
                time.sleep(self.delay)
            if self.fail:  # the backend went down mid-answer
                raise BackendDown(f"{self.name_label} went down while answering.")
            self.words_streamed += 1
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        words = self.answer(messages).split(" ")
        for i, word in enumerate(words):
            await asyncio.sleep(self.delay)  # also a point where a cancelled request stops
            if self.fail:
                raise BackendDown(f"{self.name_label} went down while answering.")
            self.words_streamed += 1
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))


class HashingEmbeddings(Embeddings):
    """Hashed bag-of-words vectors of ``size`` dimensions, L2-normalised (cosine = inner product)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size

    def _embed(self, text: str) -> list[float]:
        vec = [0.0] * self.size
        for word in re.findall(r"\w+", text.lower()):
            if len(word) < 3:
                continue
            digest = hashlib.blake2b(word.encode("utf-8", "replace"), digest_size=4).digest()
            vec[int.from_bytes(digest, "little") % self.size] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)
