"""Plain-callable LLM wrappers for the advanced-retrieval techniques: ``llm(prompt: str) -> str``.

In the notebooks the LLM is SmolLM2 (:class:`ChatLLM`, batched greedy generation); in the tests a
deterministic fake. :class:`CountingLLM` reports what a technique costs (calls and seconds) and
:class:`CachedLLM` stores greedy answers on disk (LangChain's ``SQLAlchemyCache``, the engine behind
``SQLiteCache``), so that a rerun of a notebook does not pay for the same generation twice.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LLM = Callable[[str], str]


def generate_all(llm: LLM, prompts: Sequence[str]) -> list[str]:
    """Answer every prompt: through ``llm.batch(prompts)`` when the LLM offers batched generation
    (much faster on a CPU), else one call at a time."""
    prompts = list(prompts)
    batch = getattr(llm, "batch", None)
    if callable(batch):
        out = list(batch(prompts))
        if len(out) != len(prompts):
            raise ValueError(f"llm.batch returned {len(out)} answers for {len(prompts)} prompts.")
        return out
    return [llm(p) for p in prompts]


@dataclass
class CountingLLM:
    """Wraps an LLM callable and counts its calls (prompts answered) and the seconds they took."""

    llm: LLM
    calls: int = 0
    seconds: float = 0.0

    def __call__(self, prompt: str) -> str:
        start = time.perf_counter()
        out = self.llm(prompt)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def batch(self, prompts: Sequence[str]) -> list[str]:
        start = time.perf_counter()
        out = generate_all(self.llm, prompts)
        self.seconds += time.perf_counter() - start
        self.calls += len(out)
        return out

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0


class CachedLLM:
    """Wraps a deterministic (greedy) LLM callable with a disk cache of prompt -> answer.

    The cache is LangChain's ``SQLAlchemyCache`` (what ``SQLiteCache`` is built on), keyed by the
    prompt and ``name``, which must identify the model and its generation settings; the engine comes
    from :func:`genai_lab.rag.sqlite_store.sqlite_engine`, so several notebooks can share a file.
    ``misses`` counts real calls. Missing answers are generated ``chunk`` prompts at a time and saved
    after each chunk, so an interrupted run keeps what it finished.
    """

    def __init__(self, llm: LLM, name: str, path: str | Path | None = None, chunk: int = 16) -> None:
        from langchain_community.cache import SQLAlchemyCache

        from genai_lab.paths import cache_dir
        from genai_lab.rag.sqlite_store import check_cache_name, sqlite_engine

        self.llm, self.name = llm, check_cache_name(name)
        self.path = Path(path) if path is not None else cache_dir() / "llm" / f"{name}.sqlite"
        self.hits = self.misses = 0
        self.chunk = chunk
        self._cache = SQLAlchemyCache(sqlite_engine(self.path, timeout=60))

    def __call__(self, prompt: str) -> str:
        return self.batch([prompt])[0]

    def lookup(self, prompt: str) -> str | None:
        """The cached answer to ``prompt``, or ``None``."""
        with warnings.catch_warnings():  # LangChain's notice about a future default of its loads()
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            found = self._cache.lookup(prompt, self.name)
        return found[0].text if found else None

    def batch(self, prompts: Sequence[str]) -> list[str]:
        """Answer ``prompts``, generating only the ones not cached (batched when the LLM can)."""
        from langchain_core.outputs import Generation

        found: dict[str, str] = {}
        for prompt in dict.fromkeys(prompts):
            answer = self.lookup(prompt)
            if answer is not None:
                found[prompt] = answer
        todo = [p for p in dict.fromkeys(prompts) if p not in found]
        self.misses += len(todo)
        self.hits += len(prompts) - len(todo)
        for start in range(0, len(todo), self.chunk):  # save each chunk as soon as it is done
            part = todo[start : start + self.chunk]
            for prompt, answer in zip(part, generate_all(self.llm, part), strict=True):
                self._cache.update(prompt, self.name, [Generation(text=answer)])
                found[prompt] = answer
        return [found[p] for p in prompts]


class ChatLLM:
    """A local chat model as ``llm(prompt) -> str``, greedy, with batched generation in ``batch``.

    ``ChatLLM(*genai_lab.models.load_smollm2(), max_new_tokens=64)``. A single call goes through
    :func:`genai_lab.models.chat`; ``batch`` left-pads ``batch_size`` prompts together, which on a
    CPU answers many prompts in little more time than one.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_new_tokens: int = 64,
        system: str | None = None,
        batch_size: int = 16,
    ) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.system, self.batch_size = max_new_tokens, system, batch_size

    def __call__(self, prompt: str) -> str:
        from genai_lab.models import chat

        return chat(self.model, self.tokenizer, prompt, self.max_new_tokens, system=self.system)

    def batch(self, prompts: Sequence[str]) -> list[str]:
        import torch

        tok = self.tokenizer
        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            texts = []
            for prompt in prompts[start : start + self.batch_size]:
                messages = [{"role": "system", "content": self.system}] if self.system else []
                messages.append({"role": "user", "content": prompt})
                texts.append(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
            side = tok.padding_side
            tok.padding_side = "left"
            try:
                inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            finally:
                tok.padding_side = side
            inputs = inputs.to(self.model.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    **inputs,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                )
            new = generated[:, inputs["input_ids"].shape[1] :]
            out.extend(t.strip() for t in tok.batch_decode(new, skip_special_tokens=True))
        return out
