"""Tests of the LCEL chain's wiring, its scoring, and the chat-model factory.

The chain's wiring is tested with LangChain's deterministic fake chat models and a keyword embedding;
the notebooks run the real SmolLM2 and MiniLM. One test loads the real SmolLM2 through transformers.
"""

from __future__ import annotations

import pytest

from genai_lab.rag.chain import (
    build_plain_chain,
    build_rag_chain,
    build_rag_chain_with_sources,
    stream_answer,
)
from genai_lab.rag.llm import get_chat_model, served_models


@pytest.mark.real_model
def test_rag_chain_through_a_real_vllm_server(vllm_server, retriever):
    """The vLLM path end to end: get_chat_model finds the served model, and the grounded chain
    answers, streams the same text, and returns its retrieved sources."""
    llm = get_chat_model("vllm", base_url=vllm_server.base_url, max_new_tokens=24)
    assert llm.backend == "vllm"
    assert served_models(vllm_server.base_url) == [llm.model_name]
    result = build_rag_chain_with_sources(retriever, llm).invoke("How long does the battery last?")
    assert [d.metadata["source"] for d in result["docs"]][0] == "s1.pdf"
    assert isinstance(result["answer"], str) and result["answer"].strip()
    pieces = []
    streamed = stream_answer(build_rag_chain(retriever, llm), "How long does the battery last?", write=pieces.append)
    assert len(pieces) > 1, "the vLLM server should stream more than one chunk"
    assert streamed.strip() == result["answer"].strip()  # greedy decoding: the same answer both ways


@pytest.mark.real_model
def test_transformers_backend_is_the_fallback_and_streams():
    llm = get_chat_model("auto", base_url="http://127.0.0.1:9", max_new_tokens=6)
    assert llm.backend == "transformers"
    answer = build_plain_chain(llm).invoke("What is the capital of France?")
    assert isinstance(answer, str) and answer.strip()
    pieces = list(build_plain_chain(llm).stream("What is the capital of France?"))
    assert "".join(pieces).strip() == answer.strip()


