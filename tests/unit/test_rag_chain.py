"""Tests of the LCEL chain's wiring, its scoring, and the chat-model factory.

The chain's wiring is tested with LangChain's deterministic fake chat models and a keyword embedding;
the notebooks run the real SmolLM2 and MiniLM. One test loads the real SmolLM2 through transformers.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
    ParrotFakeChatModel,
)
from langchain_core.messages import AIMessage

from genai_lab.rag.chain import (
    build_plain_chain,
    build_rag_chain,
    build_rag_chain_with_sources,
    cited_sources,
    contains_answer,
    evaluate_answers,
    format_docs,
    grounded_prompt,
    is_abstention,
    stratified_sample,
    stream_answer,
    summarise,
)
from genai_lab.rag.llm import get_chat_model, openai_base_url, served_models


def test_vectorstore_retrieves_by_similarity(retriever):
    docs = retriever.invoke("How many days of leave?")
    assert docs[0].metadata["source"] == "leave.md"
    assert len(docs) == 2


def test_format_docs_numbers_and_labels_sources(chunks):
    text = format_docs(chunks[:2] + chunks[2:])
    assert text.startswith("[1] (manual.pdf, page 1)\nThe hub connects 64 sensors.")
    assert "[3] (leave.md, section Annual leave)" in text


def test_prompt_keeps_context_and_question_apart():
    system, human = grounded_prompt().format_messages(context="CTX", question="QQ?")
    assert "I don't know" in system.content and "cite" in system.content
    assert "CTX" not in system.content and "QQ?" not in system.content
    assert human.content.index("CTX") < human.content.index("Question: QQ?")


def test_chain_puts_retrieved_context_and_question_into_the_prompt(retriever):
    chain = build_rag_chain(retriever, ParrotFakeChatModel())  # echoes the human message
    echoed = chain.invoke("How long does the battery last?")
    assert isinstance(echoed, str)
    assert "[1] (s1.pdf, page 2)\nThe battery lasts 3 years." in echoed
    assert echoed.endswith("Question: How long does the battery last?")


def test_chain_streams(retriever):
    llm = GenericFakeChatModel(messages=iter([AIMessage(content="The battery lasts 3 years [1].")]))
    pieces = []
    answer = stream_answer(build_rag_chain(retriever, llm), "battery?", write=pieces.append)
    assert len(pieces) > 3
    assert "".join(pieces) == answer == "The battery lasts 3 years [1]."


QUESTIONS = [
    {"id": "q1", "kind": "single_fact", "question": "How many sensors per hub?", "answer": "64", "aliases": [],
     "sources": [{"path": "manual.pdf", "page": 1}]},
    {"id": "q2", "kind": "table", "question": "How long does the battery last?", "answer": "3 years",
     "aliases": ["three years"], "sources": [{"path": "s1.pdf", "page": 2}]},
    {"id": "q3", "kind": "unanswerable", "question": "What is the CEO's salary?", "answer": "not in the documents",
     "aliases": [], "sources": []},
    {"id": "q4", "kind": "unanswerable", "question": "What is the dividend?", "answer": "not in the documents",
     "aliases": [], "sources": []},
]


def test_evaluation_scores_answers_citations_and_abstentions(retriever):
    answers = ["Each hub takes 64 sensors [1].", "It lasts three years [2].", "I don't know.", "The dividend is 2 EUR."]
    chain = build_rag_chain_with_sources(retriever, FakeListChatModel(responses=answers))
    records = evaluate_answers(QUESTIONS, chain)
    assert [r.correct for r in records] == [True, True, True, False]
    assert records[0].cited == ["manual.pdf"] and records[0].citation_correct
    assert not records[1].citation_correct  # [2] is not the battery manual for this query
    summary = summarise(records)
    assert summary["answer_accuracy"] == 1.0
    assert summary["citation_accuracy"] == 0.5
    assert summary["abstention_accuracy"] == 0.5
    assert summary["false_abstention_rate"] == 0.0


def test_plain_chain_has_no_context():
    echoed = build_plain_chain(ParrotFakeChatModel()).invoke("What is RAG?")
    assert echoed == "What is RAG?"
    records = evaluate_answers(QUESTIONS[:1], build_plain_chain(FakeListChatModel(responses=["64"])), with_sources=False)
    assert records[0].correct and records[0].cited == []


@pytest.mark.parametrize(
    ("answer", "gold", "aliases", "expected"),
    [
        ("It costs 1,290 EUR.", "1290 EUR", [], True),
        ("It costs €349.", "349 EUR", ["349"], True),
        ("Economy class.", "Premium", [], False),
        ("THE HUB H3", "the Atrium Hub H3", ["hub h3"], True),
    ],
)
def test_contains_answer(answer, gold, aliases, expected):
    assert contains_answer(answer, gold, aliases) is expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("I don't know.", True), ("I do not know the answer", True), ("The context does not contain it.", True),
     ("This is not mentioned in the documents.", True), ("It is 55 EUR [1].", False)],
)
def test_is_abstention(answer, expected):
    assert is_abstention(answer) is expected


def test_cited_sources_ignores_out_of_range_numbers(chunks):
    assert cited_sources("See [2] and [7].", chunks) == {"s1.pdf"}
    assert cited_sources("According to leave.md, 27 days.", chunks) == {"leave.md"}


def test_stratified_sample_is_deterministic():
    a, b = stratified_sample(QUESTIONS, 1, seed=3), stratified_sample(QUESTIONS, 1, seed=3)
    assert a == b and sorted(q["kind"] for q in a) == ["single_fact", "table", "unanswerable"]


# --- the chat-model factory ---------------------------------------------------------------------
class _FakeOpenAI(BaseHTTPRequestHandler):
    def _send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        self._send({"object": "list", "data": [{"id": "smollm2-test", "object": "model"}]})

    def do_POST(self):  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(request)
        self._send({
            "id": "x", "object": "chat.completion", "created": 0, "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "served answer"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        })

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server():
    server = HTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_vllm_backend_uses_the_openai_api(openai_server):
    server, url = openai_server
    assert served_models(url) == ["smollm2-test"]
    llm = get_chat_model("auto", base_url=url, max_new_tokens=7)
    assert llm.backend == "vllm"
    assert llm.invoke("hi").content == "served answer"
    assert server.requests[0]["model"] == "smollm2-test"
    request = server.requests[0]
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 7
    assert request["temperature"] == 0.0


def test_factory_errors_name_the_fix(monkeypatch):
    monkeypatch.delenv("GENAI_LAB_VLLM_URL", raising=False)
    with pytest.raises(ValueError, match="backend must be one of"):
        get_chat_model("llamacpp")
    with pytest.raises(ValueError, match="GENAI_LAB_VLLM_URL"):
        get_chat_model("vllm")
    with pytest.raises(ConnectionError, match="vllm.entrypoints.openai.api_server"):
        get_chat_model("vllm", base_url="http://127.0.0.1:9")
    assert openai_base_url("http://h:8000/") == "http://h:8000/v1"
    assert openai_base_url("http://h:8000/v1") == "http://h:8000/v1"


