"""Conversation: history expansion, the LLM rewrite and its check, the multi-turn chain with message
history, and the follow-up metric. Fake chat models and the keyword retriever of conftest; the real
retrievers on the knowledge base are in tests/integration/test_rag_recency_real.py."""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda

from genai_lab.paths import data_dir
from genai_lab.rag.conversation import (
    CONTEXTUALIZE_SYSTEM,
    build_conversational_rag_chain,
    clean_rewrite,
    content_words,
    dialogue_history,
    expand_with_history,
    followup_hit_rate,
    followup_queries,
    history_expansion_rewriter,
    in_memory_histories,
    is_rewrite,
    llm_rewriter,
    read_dialogues,
    with_message_history,
)

PASSWORD = "What is the minimum password length under the current security policy?"
HISTORY = [HumanMessage(PASSWORD), AIMessage("14 characters [1].")]


def never_called(_):
    raise AssertionError("the LLM must not be called")


# ---- history expansion ----------------------------------------------------------------------------
def test_content_words_drop_stop_words_and_keep_identifiers():
    words = content_words("What caused incident INC-2024-031 on the hub?")
    assert words == ["caused", "incident", "INC-2024-031", "hub"]
    assert content_words("Is firmware 4.2.0 out? Is it?") == ["firmware", "4.2.0"]


def test_expansion_adds_the_previous_question_and_the_follow_up_s_own_time_wins():
    query = expand_with_history("And in 2023?", HISTORY)
    assert query == "And in 2023? minimum password length security policy"  # "current" is replaced by 2023
    inherited = expand_with_history("And the Lumen S1?", [HumanMessage("What did the Hub H2 cost in 2024?")])
    assert inherited == "And the Lumen S1? Hub H2 cost 2024"  # no own time: the year carries over
    now = expand_with_history("And now?", [HumanMessage("What did Cloud Basic cost in 2024?")])
    assert "2024" not in now and "Cloud Basic cost" in now
    assert expand_with_history("And in 2023?", []) == "And in 2023?"
    assert expand_with_history("And in 2023?", [AIMessage("only an answer")]) == "And in 2023?"


def test_expansion_uses_only_the_last_user_turns():
    history = [HumanMessage("leave days"), AIMessage("27 days of leave, battery"), HumanMessage("hub sensors")]
    assert expand_with_history("And?", history) == "And? hub sensors"
    assert expand_with_history("And?", history, turns=2) == "And? leave days hub sensors"
    with pytest.raises(ValueError, match="turns"):
        expand_with_history("And?", history, turns=0)


def test_history_expansion_rewriter_is_a_runnable():
    rewriter = history_expansion_rewriter()
    assert rewriter.invoke({"input": "And in 2023?", "chat_history": HISTORY}).startswith("And in 2023? minimum")
    assert rewriter.invoke({"input": "Hi?"}) == "Hi?"


# ---- the LLM rewrite ------------------------------------------------------------------------------
def test_llm_rewrite_is_used_when_it_is_a_rewrite():
    llm = FakeListChatModel(responses=["Standalone question: What was the minimum password length in 2023?\nextra"])
    query = llm_rewriter(llm).invoke({"input": "And in 2023?", "chat_history": HISTORY})
    assert query == "What was the minimum password length in 2023?"


@pytest.mark.parametrize("reply", ["2023: 10 characters", "", "And in 2023?", "What is the weather in 2023?"])
def test_an_answer_or_an_echo_falls_back_to_history_expansion(reply):
    rewriter = llm_rewriter(FakeListChatModel(responses=[reply]))
    query = rewriter.invoke({"input": "And in 2023?", "chat_history": HISTORY})
    assert query == expand_with_history("And in 2023?", HISTORY)


def test_llm_rewriter_skips_the_llm_without_history_and_sees_the_history_with_it():
    seen = []

    def llm(prompt_value):
        seen.append(prompt_value.to_messages())
        return AIMessage(content="What was the minimum password length in 2023?")

    rewriter = llm_rewriter(RunnableLambda(llm))
    no_history = {"input": "What is RMA?", "chat_history": []}
    assert llm_rewriter(RunnableLambda(never_called)).invoke(no_history) == "What is RMA?"
    rewriter.invoke({"input": "And in 2023?", "chat_history": HISTORY})
    messages = seen[0]
    assert messages[0].content == CONTEXTUALIZE_SYSTEM
    assert [m.content for m in messages[1:]] == [PASSWORD, "14 characters [1].", "And in 2023?"]


def test_clean_rewrite_and_is_rewrite():
    assert clean_rewrite('\n  "Query: What is X?"  \nmore') == "What is X?"
    conversation = {"input": "And in 2023?", "chat_history": HISTORY}
    assert is_rewrite("What was the password length in 2023?", conversation)
    assert not is_rewrite("What was the password length in 2023", conversation)  # not a question
    assert not is_rewrite("And in 2023?", conversation)  # an echo brings nothing from the history


def test_llm_rewriter_needs_an_input_variable():
    from langchain_core.prompts import ChatPromptTemplate

    with pytest.raises(ValueError, match="input"):
        llm_rewriter(FakeListChatModel(responses=["x"]), prompt=ChatPromptTemplate.from_messages([("human", "{q}")]))


# ---- the chain and its memory ---------------------------------------------------------------------
def test_the_follow_up_retrieves_through_its_history(retriever):
    chain = build_conversational_rag_chain(retriever, FakeListChatModel(responses=["27 days [1]."]))
    history = [HumanMessage("How many days of leave do employees get?"), AIMessage("27 days [1].")]
    out = chain.invoke({"input": "And for part-timers?", "chat_history": history})
    assert out["standalone_question"] == "And for part-timers? many days leave employees get"
    assert out["docs"][0].metadata["source"] == "leave.md"
    assert set(out) == {"input", "chat_history", "standalone_question", "docs", "answer"}
    assert out["answer"] == "27 days [1]."


def test_the_answer_prompt_has_rules_history_passages_and_the_follow_up(retriever):
    seen = []

    def llm(prompt_value):
        seen.append(prompt_value.to_messages())
        return AIMessage(content="It lasts 3 years [1].")

    chain = build_conversational_rag_chain(retriever, RunnableLambda(llm), max_history=2)
    history = [HumanMessage("old question"), AIMessage("old answer"),
               HumanMessage("How long does the battery last?"), AIMessage("3 years")]
    chain.invoke({"input": "And in years?", "chat_history": history})
    messages = seen[0]
    assert messages[0].type == "system" and "I don't know" in messages[0].content
    assert [m.content for m in messages[1:3]] == ["How long does the battery last?", "3 years"]  # last two only
    assert "<documents>" in messages[-1].content and messages[-1].content.endswith("Question: And in years?")
    with pytest.raises(ValueError, match="max_history"):
        build_conversational_rag_chain(retriever, RunnableLambda(llm), max_history=-1)


def test_message_history_keeps_each_session(retriever):
    store, get = in_memory_histories()
    queries = []
    recording = RunnableLambda(lambda q: queries.append(q) or retriever.invoke(q))
    chain = with_message_history(
        build_conversational_rag_chain(recording, FakeListChatModel(responses=["27 days [1].", "Yes [1]."])), get
    )
    alice = {"configurable": {"session_id": "alice"}}
    chain.invoke({"input": "How many days of leave do employees get?"}, config=alice)
    chain.invoke({"input": "And for part-timers?"}, config=alice)
    chain.invoke({"input": "And for part-timers?"}, config={"configurable": {"session_id": "bob"}})
    assert queries == ["How many days of leave do employees get?",
                       "And for part-timers? many days leave employees get",
                       "And for part-timers?"]  # bob has no history
    assert [m.type for m in store["alice"].messages] == ["human", "ai", "human", "ai"]
    assert store["alice"].messages[1].content == "27 days [1]."
    assert len(store["bob"].messages) == 2


# ---- the follow-up metric and the dialogue set --------------------------------------------------
def test_followup_hit_rate_with_and_without_history(retriever):
    ellipsis = {"id": "t1", "first": "How many days of leave do employees get?", "first_answer": "27 days",
                "followup": "And for part-timers?", "gold": {"path": "leave.md"}}
    switch = {"id": "t2", "first": "How many days of leave do employees get?", "first_answer": "27 days",
              "followup": "How long does the battery last?", "gold": {"path": "s1.pdf"}}
    expand = history_expansion_rewriter()
    assert followup_queries([ellipsis, switch], None) == ["And for part-timers?", "How long does the battery last?"]
    assert followup_hit_rate([ellipsis], retriever, expand, k=1) == 1.0
    assert followup_hit_rate([switch], retriever, None, k=1) == 1.0
    # the cost of expansion: a follow-up on a new topic drags the old topic along
    assert followup_hit_rate([switch], retriever, expand, k=1) == 0.0
    assert followup_hit_rate([ellipsis, switch], lambda q: ["s1.pdf"], None, k=1) == 0.5
    assert dialogue_history(ellipsis)[1].content == "27 days"
    with pytest.raises(ValueError, match="queries"):
        followup_hit_rate([ellipsis, switch], retriever, queries=["one"])
    with pytest.raises(ValueError, match="No dialogues"):
        followup_hit_rate([], retriever)


def test_the_dialogue_set_matches_the_knowledge_base():
    from genai_lab.rag.chunking import split_by_section
    from genai_lab.rag.loaders import load_documents

    dialogues = read_dialogues()
    assert len(dialogues) >= 20 and len({d["id"] for d in dialogues}) == len(dialogues)
    units = {(c.metadata["source"], c.metadata.get("section") or c.metadata.get("page"))
             for c in split_by_section(load_documents(data_dir() / "kb").documents)}
    for d in dialogues:
        gold = d["gold"]
        assert (gold["path"], gold.get("section") or gold.get("page")) in units, d["id"]
        assert d["followup"].strip().endswith("?") and d["first"].strip().endswith("?"), d["id"]


def test_read_dialogues_rejects_a_row_without_gold(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "x", "first": "q", "first_answer": "a", "followup": "f", "gold": {}}) + "\n")
    with pytest.raises(ValueError, match="gold"):
        read_dialogues(path)


def test_documents_are_not_strings():
    # followup_hit_rate reads sources from documents' metadata
    docs = [Document(page_content="x", metadata={"source": "a.md"})]
    assert followup_hit_rate([{"id": "1", "first": "q?", "first_answer": "a", "followup": "f?",
                               "gold": {"path": "a.md"}}], lambda q: docs, None, k=1) == 1.0
