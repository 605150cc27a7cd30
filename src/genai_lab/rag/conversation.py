"""Conversation: a multi-turn RAG chain that rewrites a follow-up into a question retrieval can use.

"What is the minimum password length?" retrieves the security policy; the follow-up "And in 2023?"
retrieves nothing useful on its own, because the words that say what it is about are in the previous
turn. The chain therefore has three steps (LangChain's "history-aware retriever" pattern, built here
from ``langchain_core`` primitives)::

    {"input", "chat_history"}
      -> rewrite:  the follow-up and the history -> a search query    (standalone_question)
      -> retrieve: that query -> documents                           (docs)
      -> answer:   rules + history + fenced documents + the follow-up -> answer

and :func:`with_message_history` wraps it in ``RunnableWithMessageHistory``, which loads and saves the
turns of each session in an ``InMemoryChatMessageHistory``. With no history the input is searched as
it is and no rewrite runs (as in ``create_history_aware_retriever``).

Two rewrite steps, both runnables ``{"input", "chat_history"} -> str``:

- :func:`llm_rewriter`: the contextualise prompt of the LangChain docs ("formulate a standalone
  question ... do not answer it") on any chat model. A large model writes "What was the minimum
  password length in 2023?"; the course's SmolLM2-135M often answers instead ("2024: 55 EUR").
  A rewrite is accepted only if it is one (:func:`is_rewrite`: a question, ending in "?", that
  brings in a content word of the previous user turn); otherwise the next step's query is used;
- :func:`history_expansion_rewriter`: deterministic query expansion with history. The search query
  is the follow-up followed by the content words of the previous user question (stop words and
  words already in the follow-up removed). "And in 2023?" after "What is the minimum password length
  under the current security policy?" becomes "And in 2023? minimum password length current
  security policy": all the previous question's topic, and the follow-up's own date. One rule about
  time: when the follow-up names its own time (a year, a date, "now", "current", "today", "latest"),
  the previous question's time words and years are not carried over, because the follow-up's replace
  them ("... in 2024?" then "And now?" asks about now). Only user turns are used, not the model's
  answers (they may be wrong, and they add words the user never asked about).

The evaluation (:func:`followup_hit_rate`) asks each two-turn dialogue of
``data/kb_eval/dialogues.jsonl`` (first question, its answer, follow-up, gold document of the
follow-up) and counts a hit when the gold document is in the top ``k`` for the follow-up, searched
with or without its history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.chat_history import BaseChatMessageHistory, InMemoryChatMessageHistory
    from langchain_core.messages import BaseMessage
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import Runnable

CONTEXTUALIZE_SYSTEM = (
    "Given a chat history and the latest user question which might reference context in the chat "
    "history, formulate a standalone question which can be understood without the chat history. "
    "Do NOT answer the question, just reformulate it if needed and otherwise return it as is."
)
TIME_WORDS = frozenset({"now", "current", "currently", "today", "latest", "nowadays", "presently"})
_WORD = re.compile(r"[\w][\w.\-/#]*[\w]|[\w]")
_TIME = re.compile(r"(?<![\w-])(?:19|20)\d{2}(?:-\d{2}-\d{2})?(?![\w-])")
_PREFIX = re.compile(r"^\s*(?:standalone\s+question|rewritten\s+question|question|query)\s*:\s*", re.IGNORECASE)

__all__ = [
    "CONTEXTUALIZE_SYSTEM", "TIME_WORDS", "build_conversational_rag_chain", "clean_rewrite", "content_words",
    "contextualize_prompt", "conversational_prompt", "dialogue_history", "expand_with_history",
    "followup_hit_rate", "followup_queries", "history_expansion_rewriter", "in_memory_histories", "is_rewrite",
    "llm_rewriter", "read_dialogues", "with_message_history",
]


# ------------------------------------------------------------------------------------------------
# The deterministic rewrite: query expansion with history
# ------------------------------------------------------------------------------------------------
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def _is_time(word: str) -> bool:
    return word.lower() in TIME_WORDS or bool(_TIME.fullmatch(word))


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, without repeats: no English stop words
    (bm25s' list) and no punctuation; identifiers such as ``INC-2024-031`` or ``4.2.0`` stay whole."""
    stop = _stopwords()
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low not in stop and low not in (w.lower() for w in out):
            out.append(word)
    return out


def _text(message: Any) -> str:
    content = message.content
    return content if isinstance(content, str) else " ".join(str(p.get("text", p)) if isinstance(p, dict) else str(p)
                                                              for p in content)


def expand_with_history(question: str, history: Sequence[BaseMessage], turns: int = 1) -> str:
    """``question`` followed by the content words of the last ``turns`` user messages of ``history``
    that it lacks; time words and years of the history are left out when ``question`` names its own
    time. With no user message in the history, ``question`` unchanged."""
    if turns < 1:
        raise ValueError(f"turns must be >= 1, got {turns}.")
    previous = [_text(m) for m in history if getattr(m, "type", None) == "human"][-turns:]
    if not previous:
        return question
    own = {w.lower() for w in content_words(question)} | {w.lower() for w in _WORD.findall(question)}
    own_time = any(_is_time(w) for w in _WORD.findall(question))
    extra: list[str] = []
    for text in previous:
        for word in content_words(text):
            low = word.lower()
            if low in own or low in (e.lower() for e in extra) or (own_time and _is_time(word)):
                continue
            extra.append(word)
    return f"{question.strip()} {' '.join(extra)}".strip()


def history_expansion_rewriter(turns: int = 1) -> Runnable:
    """The deterministic rewrite step: ``{"input", "chat_history"} -> expand_with_history(...)``."""
    from langchain_core.runnables import RunnableLambda

    if turns < 1:
        raise ValueError(f"turns must be >= 1, got {turns}.")
    return RunnableLambda(
        lambda x: expand_with_history(x["input"], x.get("chat_history") or [], turns=turns)
    ).with_config(run_name="history_expansion")


# ------------------------------------------------------------------------------------------------
# The LLM rewrite
# ------------------------------------------------------------------------------------------------
def contextualize_prompt() -> ChatPromptTemplate:
    """System: :data:`CONTEXTUALIZE_SYSTEM`; then the history; then the follow-up (``{input}``)."""
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    return ChatPromptTemplate.from_messages(
        [("system", CONTEXTUALIZE_SYSTEM), MessagesPlaceholder("chat_history"), ("human", "{input}")]
    )


def clean_rewrite(text: str) -> str:
    """The first non-empty line of an LLM's rewrite, without a "Standalone question:" label or quotes."""
    for line in text.splitlines():
        line = _PREFIX.sub("", line.strip().strip("\"'`")).strip().strip("\"'`").strip()
        if line:
            return line
    return ""


def is_rewrite(text: str, conversation: Mapping[str, Any]) -> bool:
    """Whether an LLM's output is a rewrite of the follow-up with its context, not an answer nor the
    follow-up repeated: a question (ends in "?") that carries at least one content word of the previous
    user messages which the follow-up lacks (``conversation``: ``{"input", "chat_history"}``)."""
    if not text.strip().endswith("?"):
        return False
    follow = {w.lower() for w in content_words(conversation["input"])}
    users = " ".join(_text(m) for m in conversation.get("chat_history") or [] if getattr(m, "type", None) == "human")
    context = {w.lower() for w in content_words(users)} - follow
    return any(w.lower() in context for w in content_words(text))


def llm_rewriter(
    llm: Runnable,
    prompt: Any = None,
    fallback: Runnable | None = None,
    accept: Callable[[str, Mapping[str, Any]], bool] = is_rewrite,
) -> Runnable:
    """The LLM rewrite step: with history, ``prompt | llm`` writes the standalone question (first line,
    cleaned by :func:`clean_rewrite`); when ``accept`` (default :func:`is_rewrite`) rejects it, the
    query is ``fallback``'s (default: :func:`history_expansion_rewriter`). Without history, the input
    as it is, and the LLM is not called."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableBranch, RunnableLambda

    prompt = prompt or contextualize_prompt()
    if "input" not in prompt.input_variables:
        raise ValueError(f"The rewrite prompt needs an {{input}} variable; it has {prompt.input_variables}.")
    fallback = fallback or history_expansion_rewriter()
    rewrite = prompt | llm | StrOutputParser() | RunnableLambda(clean_rewrite)

    def run(x: Mapping[str, Any], config: Any = None) -> str:
        text = rewrite.invoke(x, config)
        return text if accept(text, x) else str(fallback.invoke(x, config))

    return RunnableBranch(
        (lambda x: not x.get("chat_history"), RunnableLambda(lambda x: x["input"])),
        RunnableLambda(run),
    ).with_config(run_name="llm_rewrite")


# ------------------------------------------------------------------------------------------------
# The chain and its memory
# ------------------------------------------------------------------------------------------------
def conversational_prompt() -> ChatPromptTemplate:
    """The grounded prompt of :mod:`genai_lab.rag.chain` with the conversation between the rules and
    the fenced passages: system rules, history, then passages and the follow-up (``{question}``)."""
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    from genai_lab.rag.chain import HUMAN_PROMPT, SYSTEM_PROMPT

    return ChatPromptTemplate.from_messages(
        [("system", SYSTEM_PROMPT), MessagesPlaceholder("chat_history", optional=True), ("human", HUMAN_PROMPT)]
    )


def build_conversational_rag_chain(
    retriever: Runnable,
    llm: Runnable,
    rewriter: Runnable | None = None,
    prompt: Any = None,
    format_docs: Callable[[Sequence[Any]], str] | None = None,
    max_history: int = 6,
) -> Runnable:
    """``{"input", "chat_history"}`` in; ``{"input", "chat_history", "standalone_question", "docs",
    "answer"}`` out. ``rewriter`` makes the search query (default: :func:`history_expansion_rewriter`;
    :func:`llm_rewriter` for an LLM), ``retriever`` searches it (e.g. a
    :class:`~genai_lab.rag.recency.RecencyRetriever`), and ``llm`` answers with ``prompt`` (default
    :func:`conversational_prompt`) from the last ``max_history`` messages, the passages formatted by
    ``format_docs`` (default :func:`genai_lab.rag.chain.format_docs`) and the follow-up as typed."""
    from langchain_core.messages import trim_messages
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from genai_lab.rag.chain import format_docs as default_format

    if max_history < 0:
        raise ValueError(f"max_history must be >= 0 messages, got {max_history}.")
    rewriter = rewriter or history_expansion_rewriter()
    prompt = prompt or conversational_prompt()
    fmt = format_docs or default_format

    def recent(x: Mapping[str, Any]) -> list[Any]:
        history = list(x.get("chat_history") or [])
        if not max_history:
            return []
        return trim_messages(history, max_tokens=max_history, token_counter=len, strategy="last", start_on="human")

    answer = (
        RunnableLambda(lambda x: {"context": fmt(x["docs"]), "question": x["input"], "chat_history": recent(x)})
        | prompt
        | llm
        | StrOutputParser()
    )
    return (
        RunnablePassthrough.assign(chat_history=lambda x: list(x.get("chat_history") or []))
        .assign(standalone_question=rewriter)
        .assign(docs=RunnableLambda(lambda x: x["standalone_question"]) | retriever)
        .assign(answer=answer)
    ).with_config(run_name="conversational_rag")


def in_memory_histories() -> tuple[dict[str, InMemoryChatMessageHistory], Callable[[str], BaseChatMessageHistory]]:
    """A store of sessions (``session id -> InMemoryChatMessageHistory``) and its getter, created on
    first use, for :func:`with_message_history`."""
    from langchain_core.chat_history import InMemoryChatMessageHistory

    store: dict[str, InMemoryChatMessageHistory] = {}

    def get(session_id: str) -> BaseChatMessageHistory:
        if session_id not in store:
            store[session_id] = InMemoryChatMessageHistory()
        return store[session_id]

    return store, get


def with_message_history(
    chain: Runnable, get_session_history: Callable[[str], BaseChatMessageHistory] | None = None
) -> Runnable:
    """``RunnableWithMessageHistory`` around :func:`build_conversational_rag_chain`: call it with
    ``{"input": ...}`` and ``config={"configurable": {"session_id": "..."}}``; the user's input and
    the ``answer`` are saved to that session after each turn. Default store: :func:`in_memory_histories`."""
    from langchain_core.runnables.history import RunnableWithMessageHistory

    if get_session_history is None:
        _, get_session_history = in_memory_histories()
    return RunnableWithMessageHistory(
        chain,
        get_session_history,
        input_messages_key="input",
        history_messages_key="chat_history",
        output_messages_key="answer",
    )


# ------------------------------------------------------------------------------------------------
# The dialogue set and the follow-up metric
# ------------------------------------------------------------------------------------------------
def read_dialogues(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Two-turn dialogues (``data/kb_eval/dialogues.jsonl``): ``first``, ``first_answer``,
    ``followup`` and ``gold`` (the follow-up's document: ``path``, and ``section`` or ``page``)."""
    if path is None:
        from genai_lab.paths import data_dir

        path = data_dir() / "kb_eval" / "dialogues.jsonl"
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        missing = {"id", "first", "first_answer", "followup", "gold"} - set(row)
        if missing or "path" not in row.get("gold", {}):
            raise ValueError(f"{path}: dialogue {row.get('id', '?')} lacks {sorted(missing) or ['gold.path']}.")
    return rows


def dialogue_history(dialogue: Mapping[str, Any]) -> list[BaseMessage]:
    """The first turn of a dialogue as messages: the user's question and the (gold) answer."""
    from langchain_core.messages import AIMessage, HumanMessage

    return [HumanMessage(dialogue["first"]), AIMessage(dialogue["first_answer"])]


def followup_queries(dialogues: Sequence[Mapping[str, Any]], rewriter: Runnable | None) -> list[str]:
    """The search query of each follow-up: rewritten with its history by ``rewriter``, or the
    follow-up alone (``None``: no history)."""
    if rewriter is None:
        return [d["followup"] for d in dialogues]
    return [str(rewriter.invoke({"input": d["followup"], "chat_history": dialogue_history(d)})) for d in dialogues]


def followup_hit_rate(
    dialogues: Sequence[Mapping[str, Any]],
    retrieve: Any,
    rewriter: Runnable | None = None,
    k: int = 4,
    queries: Sequence[str] | None = None,
) -> float:
    """Share of the dialogues whose gold document is in the top ``k`` for the follow-up's query
    (:func:`followup_queries`, or ``queries`` given). ``retrieve`` is a LangChain retriever, or
    ``query -> documents or sources``."""
    if not dialogues:
        raise ValueError("No dialogues to score; check the data file.")
    queries = list(queries) if queries is not None else followup_queries(dialogues, rewriter)
    if len(queries) != len(dialogues):
        raise ValueError(f"Got {len(queries)} queries for {len(dialogues)} dialogues.")
    hits = 0
    for dialogue, query in zip(dialogues, queries, strict=True):
        found = retrieve.invoke(query) if hasattr(retrieve, "invoke") else retrieve(query)
        sources = [h if isinstance(h, str) else h.metadata.get("source") for h in list(found)[:k]]
        hits += dialogue["gold"]["path"] in sources
    return hits / len(dialogues)
