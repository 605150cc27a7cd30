"""A reader example, its prompt (the RAG chain's own), and its tokens with the loss mask.

The prompt is the chain's grounded prompt (:func:`genai_lab.rag.chain.grounded_prompt`: the rules as
the system message, then :func:`~genai_lab.rag.chain.format_docs`'s numbered passages fenced between
``<documents>`` and ``</documents>``, then the question), rendered through SmolLM2's chat template, so
that a reader trained here drops into the chain unchanged.

The loss mask: the label of every prompt token is ``-100`` (PyTorch's ``ignore_index``); only the
assistant's answer and its end-of-turn token ``<|im_end|>`` are learned. The newline the template
writes after ``<|im_end|>`` is not part of the answer and is not learned either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genai_lab.rag.scoring import ABSTENTION

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from langchain_core.documents import Document
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_CITATION_MARK = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")

__all__ = [
    "ABSTENTION", "IGNORE_INDEX", "ReaderExample", "TokenizedExample", "answer_with_citation", "collate",
    "prompt_messages", "strip_citations", "tokenize_example",
]


@dataclass
class ReaderExample:
    """One training or evaluation item: the passages the reader sees (in prompt order), the question,
    the target answer, and what the answer should be scored against.

    ``golds`` are the gold answer strings (empty for an unanswerable question); ``cite`` the 1-based
    numbers of the passages that hold the answer (empty when the target is :data:`ABSTENTION`).
    """

    id: str
    question: str
    docs: list[Document]
    target: str
    kind: str
    golds: list[str] = field(default_factory=list)
    cite: list[int] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def answer_with_citation(answer: str, cite: Sequence[int]) -> str:
    """The target the reader learns: the short answer then its citation, ``"45 EUR [2]"``
    (``"Marta Kowalczyk [1, 3]"`` for two passages); :data:`ABSTENTION` when nothing is cited."""
    if not cite:
        return ABSTENTION
    return f"{answer.strip()} [{', '.join(str(n) for n in cite)}]"


def strip_citations(answer: str) -> str:
    """The answer without its ``[n]`` citation markers, for scoring against SQuAD's answer spans (a
    citation is where the answer came from, not part of it: ``"France [1]"`` -> ``"France"``)."""
    return _CITATION_MARK.sub("", answer).strip()


def prompt_messages(docs: Sequence[Document], question: str) -> list[dict[str, str]]:
    """The chain's grounded prompt as chat messages (``system`` then ``user``), exactly the text the
    chain sends: :func:`~genai_lab.rag.chain.grounded_prompt` filled with
    :func:`~genai_lab.rag.chain.format_docs` of ``docs``."""
    from genai_lab.rag.chain import format_docs, grounded_prompt

    messages = grounded_prompt().format_messages(context=format_docs(docs), question=question)
    return [{"role": _ROLES[m.type], "content": str(m.content)} for m in messages]


def prompt_text(tokenizer: PreTrainedTokenizerBase, docs: Sequence[Document], question: str) -> str:
    """The chat-templated prompt, ending with the assistant's turn opening."""
    return str(tokenizer.apply_chat_template(
        prompt_messages(docs, question), add_generation_prompt=True, tokenize=False
    ))


@dataclass
class TokenizedExample:
    """``input_ids`` and ``labels`` of equal length: ``labels`` is ``-100`` on the prompt."""

    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def answer_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def end_of_turn_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id of the token that ends the assistant's turn (``<|im_end|>`` for SmolLM2: its EOS)."""
    eot = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(eot, int) and eot != tokenizer.unk_token_id:
        return eot
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has neither <|im_end|> nor an EOS token; use a chat model's tokenizer.")
    return int(tokenizer.eos_token_id)


def tokenize_example(tokenizer: PreTrainedTokenizerBase, example: ReaderExample) -> TokenizedExample:
    """The chat-templated prompt followed by the target answer and ``<|im_end|>``; labels ``-100`` on
    the prompt, the token ids on the answer and on ``<|im_end|>``."""
    prompt = tokenizer(prompt_text(tokenizer, example.docs, example.question), add_special_tokens=False)
    answer = tokenizer(example.target, add_special_tokens=False)
    prompt_ids, answer_ids = list(prompt["input_ids"]), [*answer["input_ids"], end_of_turn_id(tokenizer)]
    if not example.target.strip():
        raise ValueError(f"Example {example.id!r} has an empty target; an abstention is {ABSTENTION!r}.")
    return TokenizedExample(prompt_ids + answer_ids, [IGNORE_INDEX] * len(prompt_ids) + answer_ids)


def collate(items: Sequence[TokenizedExample], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (``-100`` on the padding) for a
    training batch."""
    import torch

    if not items:
        raise ValueError("collate needs at least one example.")
    width = max(len(x) for x in items)
    ids = torch.full((len(items), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, x in enumerate(items):
        ids[row, : len(x)] = torch.tensor(x.input_ids)
        labels[row, : len(x)] = torch.tensor(x.labels)
        mask[row, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
