"""The RAG chain in LCEL, built from LangChain's own pieces, and its evaluation on a question set.

The chain is the one from the LangChain docs, and nothing more::

    chain = (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | GROUNDED_PROMPT
        | llm
        | StrOutputParser()
    )

- the retriever is LangChain's FAISS vector store (``langchain_community.vectorstores.FAISS``) over
  the chunks, with ``HuggingFaceEmbeddings`` pointed at the local MiniLM folder for the queries (the
  chunks' vectors come from the disk cache of :func:`genai_lab.rag.embeddings.embed_texts`, the same
  model, so the knowledge base is embedded once);
- the prompt keeps the context and the question apart, asks for citations by number, and asks for
  "I don't know" when the context lacks the answer;
- the LLM is whatever :func:`genai_lab.rag.llm.get_chat_model` returns.

:func:`evaluate_answers` scores answers against the gold answers: answer accuracy (the answer
contains the gold answer or an alias), citation accuracy (a cited source is a gold source) and
correct abstention (on the unanswerable questions, the answer says it does not know).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.runnables import Runnable

SYSTEM_PROMPT = (
    "You answer questions about the company Brightwater Dynamics using only the numbered context "
    "passages. Answer in one short sentence and cite the passage you used, like [1]. "
    "If the context does not contain the answer, reply exactly: I don't know."
)
HUMAN_PROMPT = "Context:\n{context}\n\nQuestion: {question}"
NO_CONTEXT_SYSTEM = (
    "You answer questions about the company Brightwater Dynamics. Answer in one short sentence. "
    "If you do not know the answer, reply exactly: I don't know."
)
ABSTAIN_PATTERNS = (
    r"\bi (?:do not|don't|don’t) know\b",
    r"\bnot (?:in|mentioned in|provided in|found in|included in) the (?:context|documents?|passages?)",
    r"\b(?:context|documents?|passages?) (?:does|do) not (?:contain|mention|provide|say)",
    r"\bno information\b",
    r"\bcannot (?:find|answer|determine)\b",
    r"\bunable to (?:find|answer|determine)\b",
)


def grounded_prompt() -> Any:
    """The RAG prompt: a system message with the rules, a human message with context and question."""
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), ("human", HUMAN_PROMPT)])


def no_context_prompt() -> Any:
    """The baseline prompt without retrieval: the same task, no context."""
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("system", NO_CONTEXT_SYSTEM), ("human", "{question}")])


def source_label(doc: Document) -> str:
    """``manuals/hub.pdf, page 3`` or ``policies/leave.md, section Annual leave``."""
    meta = doc.metadata
    where = f", page {meta['page']}" if meta.get("page") else (
        f", section {meta['section']}" if meta.get("section") else ""
    )
    return f"{meta.get('source', '?')}{where}"


def format_docs(docs: Sequence[Document]) -> str:
    """Number the retrieved chunks, each with its source, for the prompt: ``[1] (source) text``."""
    return "\n\n".join(
        f"[{i}] ({source_label(doc)})\n{doc.page_content.strip()}" for i, doc in enumerate(docs, 1)
    )


# ------------------------------------------------------------------------------------------------
# Vector store and chains
# ------------------------------------------------------------------------------------------------
def minilm_embeddings() -> Embeddings:
    """LangChain's ``HuggingFaceEmbeddings`` on the local all-MiniLM-L6-v2 folder (normalised, CPU
    unless the course device says otherwise)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from genai_lab.models import minilm_dir
    from genai_lab.runtime import get_device

    return HuggingFaceEmbeddings(
        model_name=str(minilm_dir()),
        model_kwargs={"device": get_device()},
        encode_kwargs={"normalize_embeddings": True},
    )


def build_vectorstore(
    chunks: Sequence[Document], embedding: Embeddings | None = None, use_cache: bool = True
) -> FAISS:
    """LangChain's FAISS vector store over ``chunks``, scored by inner product (= cosine, the
    vectors are normalised). With ``use_cache`` (and the default MiniLM embedding), the chunk vectors
    come from :func:`genai_lab.rag.embeddings.embed_texts` and its disk cache; ``embedding`` embeds
    the queries."""
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy

    if not chunks:
        raise ValueError("build_vectorstore needs at least one chunk; did the loader find any files?")
    default = embedding is None
    embedding = embedding or minilm_embeddings()
    texts = [c.page_content for c in chunks]
    metadatas = [dict(c.metadata) for c in chunks]
    if use_cache and default:
        from genai_lab.rag.embeddings import embed_texts

        vectors = embed_texts(texts)
    else:
        vectors = embedding.embed_documents(texts)
    return FAISS.from_embeddings(
        list(zip(texts, [list(map(float, v)) for v in vectors], strict=True)),
        embedding,
        metadatas=metadatas,
        distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
    )


def build_rag_chain(retriever: Runnable, llm: Runnable, prompt: Any = None) -> Runnable:
    """``{"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm |
    StrOutputParser()``: a question string in, an answer string out (``.stream`` streams it)."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    prompt = prompt or grounded_prompt()
    return (
        {"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )


def build_rag_chain_with_sources(retriever: Runnable, llm: Runnable, prompt: Any = None) -> Runnable:
    """The same chain, returning ``{"question", "docs", "answer"}`` so that the evaluation can map
    the cited numbers back to the retrieved documents."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableParallel, RunnablePassthrough

    prompt = prompt or grounded_prompt()
    answer = (
        (lambda x: {"context": format_docs(x["docs"]), "question": x["question"]})
        | prompt
        | llm
        | StrOutputParser()
    )
    return RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(answer=answer)


def build_plain_chain(llm: Runnable, prompt: Any = None) -> Runnable:
    """The baseline without retrieval: ``{"question": ...} | prompt | llm | StrOutputParser()``."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnablePassthrough

    prompt = prompt or no_context_prompt()
    return {"question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Lower case, ``€`` as ``eur``, thousands separators and extra spaces removed."""
    text = text.lower().replace("€", " eur ").replace("’", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def contains_answer(answer: str, gold: str, aliases: Sequence[str] = ()) -> bool:
    """Whether ``answer`` contains the gold answer or one of its aliases (after :func:`normalise`)."""
    text = normalise(answer)
    return any(normalise(g) and normalise(g) in text for g in [gold, *aliases])


def is_abstention(answer: str) -> bool:
    """Whether ``answer`` declines to answer ("I don't know", "not in the context", ...)."""
    text = normalise(answer)
    return any(re.search(p, text) for p in ABSTAIN_PATTERNS)


def cited_sources(answer: str, docs: Sequence[Document]) -> set[str]:
    """The sources an answer cites: ``[n]`` markers mapped to the n-th retrieved document, plus any
    retrieved source path named in the text."""
    cited = set()
    for n in re.findall(r"\[(\d+)\]", answer):
        if 1 <= int(n) <= len(docs):
            cited.add(docs[int(n) - 1].metadata.get("source"))
    for doc in docs:
        source = doc.metadata.get("source", "")
        if source and (source in answer or source.rsplit("/", 1)[-1] in answer):
            cited.add(source)
    return cited


@dataclass
class AnswerRecord:
    """One question's answer and its scores."""

    id: str
    kind: str
    question: str
    gold: str
    answer: str
    correct: bool
    abstained: bool
    cited: list[str] = field(default_factory=list)
    citation_correct: bool = False
    seconds: float = 0.0


def score_answer(question: dict, answer: str, docs: Sequence[Document] = (), seconds: float = 0.0) -> AnswerRecord:
    """Score one answer against a question of the KB's question set."""
    gold_sources = {s["path"] for s in question.get("sources", [])}
    cited = cited_sources(answer, docs)
    unanswerable = question["kind"] == "unanswerable"
    abstained = is_abstention(answer)
    correct = abstained if unanswerable else (
        contains_answer(answer, question["answer"], question.get("aliases", ())) and not abstained
    )
    return AnswerRecord(
        id=question["id"], kind=question["kind"], question=question["question"],
        gold=question["answer"], answer=answer, correct=correct, abstained=abstained,
        cited=sorted(cited), citation_correct=bool(cited & gold_sources), seconds=seconds,
    )


def summarise(records: Sequence[AnswerRecord]) -> dict[str, float]:
    """``answer_accuracy`` and ``citation_accuracy`` over the answerable questions,
    ``abstention_accuracy`` over the unanswerable ones, ``false_abstention_rate`` over the
    answerable ones, and the mean seconds per question."""
    answerable = [r for r in records if r.kind != "unanswerable"]
    unanswerable = [r for r in records if r.kind == "unanswerable"]

    def mean(values: list[bool] | list[float]) -> float:
        return float(sum(values) / len(values)) if values else float("nan")

    return {
        "answer_accuracy": mean([r.correct for r in answerable]),
        "citation_accuracy": mean([r.citation_correct for r in answerable]),
        "abstention_accuracy": mean([r.abstained for r in unanswerable]),
        "false_abstention_rate": mean([r.abstained for r in answerable]),
        "seconds_per_question": mean([r.seconds for r in records]),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
    }


def evaluate_answers(
    questions: Sequence[dict],
    chain: Runnable,
    with_sources: bool = True,
    progress: bool = False,
) -> list[AnswerRecord]:
    """Run ``chain`` on each question and score the answers.

    ``chain`` is a :func:`build_rag_chain_with_sources` chain (``with_sources=True``: it returns
    ``{"docs", "answer"}``) or a chain that returns the answer string (``with_sources=False``, e.g.
    :func:`build_plain_chain`).
    """
    items: Any = questions
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(questions, desc="answering", unit="q")
    records = []
    for question in items:
        start = time.perf_counter()
        out = chain.invoke(question["question"])
        seconds = time.perf_counter() - start
        answer, docs = (out["answer"], out["docs"]) if with_sources else (out, [])
        records.append(score_answer(question, answer, docs, seconds))
    return records


def stratified_sample(questions: Sequence[dict], per_kind: int, seed: int = 0) -> list[dict]:
    """Up to ``per_kind`` questions of each kind, drawn with a fixed seed, in question-set order."""
    import random

    rng = random.Random(seed)
    chosen: set[str] = set()
    kinds: dict[str, list[dict]] = {}
    for q in questions:
        kinds.setdefault(q["kind"], []).append(q)
    for items in kinds.values():
        chosen.update(q["id"] for q in rng.sample(items, min(per_kind, len(items))))
    return [q for q in questions if q["id"] in chosen]


def stream_answer(chain: Runnable, question: str, write: Callable[[str], Any] | None = None) -> str:
    """Stream ``chain``'s answer piece by piece to ``write`` (default: print without newline) and
    return the whole answer."""
    write = write or (lambda s: print(s, end="", flush=True))
    pieces = []
    for piece in chain.stream(question):
        pieces.append(piece)
        write(piece)
    return "".join(pieces)
