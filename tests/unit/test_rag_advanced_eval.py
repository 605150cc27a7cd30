"""Advanced retrieval by query kind: the hand-written data set, the rewrite checks, the techniques with
fake LLMs and retrievers, and the scoring."""

from __future__ import annotations

import functools
import json
from collections import Counter
from functools import lru_cache

import numpy as np
import pytest

from genai_lab.paths import data_dir
from genai_lab.rag.advanced_eval import (
    QUERY_KINDS,
    TARGETS,
    HyDE,
    MultiQuery,
    PipelineResult,
    RewriteLog,
    alignment_log,
    content_terms,
    degenerate_reason,
    evaluate_pipelines,
    gain_rows,
    jaccard,
    read_advanced_queries,
    result_keys,
    tune_on_dev,
)
from genai_lab.rag.alignment import AlignedCorpus
from genai_lab.rag.retrievers import DenseRetriever
from tests.unit.test_rag_advanced import bow_embed as hashing_bow_embed

KB = data_dir() / "kb"


# ------------------------------------------------------------------------------------------------ the data
@lru_cache(maxsize=1)
def kb_texts() -> dict[str, str]:
    from genai_lab.rag.loaders import load_documents

    out: dict[str, str] = {}
    for doc in load_documents(KB).documents:
        src = doc.metadata["source"]
        out[src] = out.get(src, "") + f"\n{doc.metadata.get('title', '')}: {doc.page_content}"
    return out


def test_every_relevant_id_is_a_document_of_the_knowledge_base():
    paths = {d["path"] for d in json.loads((KB / "manifest.json").read_text(encoding="utf-8"))["documents"]}
    for q in read_advanced_queries():
        assert set(q["relevant"]) <= paths, (q["id"], set(q["relevant"]) - paths)
        assert len(set(q["relevant"])) == len(q["relevant"]), q["id"]


def test_kinds_are_balanced_and_dev_and_test_are_disjoint():
    queries = read_advanced_queries()
    kinds = Counter(q["kind"] for q in queries)
    assert set(kinds) == set(QUERY_KINDS)
    assert min(kinds.values()) >= 15 and max(kinds.values()) - min(kinds.values()) <= 2
    dev, test = read_advanced_queries(split="dev"), read_advanced_queries(split="test")
    assert len(dev) + len(test) == len(queries)
    assert not {q["id"] for q in dev} & {q["id"] for q in test}
    assert not {q["question"].lower() for q in dev} & {q["question"].lower() for q in test}
    for kind in QUERY_KINDS:
        assert sum(q["kind"] == kind for q in dev) >= 3
        assert sum(q["kind"] == kind for q in test) >= 12
    assert len({q["question"].lower() for q in queries}) == len(queries)


def test_paraphrases_reword_a_question_of_the_question_set_and_keep_its_documents():
    from genai_lab.rag.loaders import read_questions

    originals = {q["id"]: q for q in read_questions(KB)}
    for q in read_advanced_queries(kinds=["paraphrase"]):
        source = originals[q["paraphrase_of"]]
        assert {s["path"] for s in source["sources"]} <= set(q["relevant"]), q["id"]
        assert jaccard(q["question"], source["question"]) < 0.5, (q["id"], "too close to its original")


def test_vocabulary_mismatch_questions_share_no_term_with_their_documents():
    texts = kb_texts()
    queries = read_advanced_queries(kinds=["vocab_mismatch"])
    terms = content_terms([q["question"] for q in queries])
    for q, q_terms in zip(queries, terms, strict=True):
        assert q_terms, q["id"]
        for path in q["relevant"]:
            shared = q_terms & content_terms([texts[path]])[0]
            assert not shared, (q["id"], path, shared)


def test_a_malformed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "x", "kind": "odd", "split": "dev", "question": "?", "relevant": ["a"]}) + "\n")
    with pytest.raises(ValueError, match="kind in"):
        read_advanced_queries(path)
    path.write_text(json.dumps({"id": "x", "kind": "vague", "split": "dev", "question": "?", "relevant": []}) + "\n")
    with pytest.raises(ValueError, match="relevant"):
        read_advanced_queries(path)
    with pytest.raises(FileNotFoundError, match="kb_eval"):
        read_advanced_queries(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="split"):
        read_advanced_queries(split="train")


# ------------------------------------------------------------------------------------------------ rewrite checks
def test_degenerate_rewrites_are_named():
    claim = "0-dimensional biomaterials show inductive properties."
    assert degenerate_reason(claim, "1-dimensional biomaterials show inductive properties.") == "near-copy"
    assert degenerate_reason(claim, "Do zero-dimensional materials induce bone growth?") is None
    assert degenerate_reason(claim, "  \n") == "empty"
    assert degenerate_reason(claim, "I don't know.") == "abstention"
    assert jaccard("a b c", "a b d") == pytest.approx(2 / 4)
    assert degenerate_reason("a b c", "a b d", max_jaccard=0.5) == "near-copy"
    assert degenerate_reason("a b c", "a b d", max_jaccard=0.6) is None


def test_rewrite_log_counts_and_fallbacks():
    log = RewriteLog()
    assert log.add("how long is the trial", ["how long is the trial?", "length of the free test period"], 0.7) == [
        "length of the free test period"]
    assert log.add("core hours", [], 0.7) == []
    summary = log.summary()
    assert summary == {"outputs": 3, "degenerate": 2, "fallbacks": 1, "empty": 1, "abstention": 0, "near-copy": 1}
    assert [e["verdict"] for e in log.examples(2)] == ["near-copy", "kept", "empty"]
    assert log.for_question("core hours") == [("", "empty")]
    with pytest.raises(KeyError, match="No rewrites"):
        log.for_question("payday")


# ------------------------------------------------------------------------------------------------ techniques
class DictRanker:
    def __init__(self, table):
        self.table, self.calls = table, []

    def rank(self, queries, k=10):
        self.calls.append(list(queries))
        return [self.table.get(q, [])[:k] for q in queries]


def test_multi_query_searches_only_real_rewrites_and_falls_back_to_the_question():
    answers = {"when is payday": "when is payday?\nOn which date are salaries paid", "core hours": "core hours"}
    prompts = []

    def llm(prompt):
        prompts.append(prompt)
        return answers[prompt.rsplit("Question: ", 1)[1]]

    ranker = DictRanker({"when is payday": ["a", "b"], "On which date are salaries paid": ["c", "b"],
                         "core hours": ["x", "y"], "when is payday?": ["zzz"]})
    mq = MultiQuery(llm, ranker, n=3, depth=10)
    out = mq(["when is payday", "core hours"])
    assert len(prompts) == 2 and mq.llm_calls_per_query == 1
    assert ranker.calls == [["when is payday", "On which date are salaries paid", "core hours"]]
    assert out[0] == ["b", "a", "c"]  # b is in both lists; the near-copy's "zzz" was never searched
    assert out[1] == ["x", "y"]  # no real rewrite: the plain ranking of the question
    assert mq.log.summary()["fallbacks"] == 1
    rewrites_only = MultiQuery(llm, DictRanker(ranker.table), original_weight=0.0)(["when is payday"])
    assert rewrites_only[0][:2] == ["c", "b"]


bow_embed = functools.partial(hashing_bow_embed, dim=256)  # fewer collisions than the default 64


def test_hyde_uses_a_real_passage_and_falls_back_on_a_degenerate_one():
    docs = {"leave": "Every parent receives 16 weeks of parental leave at full pay.",
            "baby": "How much time off do mothers and fathers get after a baby arrives? Read the FAQ page on "
                    "family matters, forms, payroll and the parents network first."}
    dense = DenseRetriever(list(docs), bow_embed(list(docs.values())), embed=bow_embed)
    question = "How much time off do mothers and fathers get after a baby arrives?"
    assert dense.rank([question], k=1) == [["baby"]]
    passage = {"good": docs["leave"], "copy": question}
    for kind, expected_first, fallbacks in (("good", "leave", 0), ("copy", "baby", 1)):
        hyde = HyDE(lambda p, kind=kind: passage[kind], dense, depth=2)
        assert hyde([question])[0][0] == expected_first, kind
        assert hyde.log.summary()["fallbacks"] == fallbacks
    only_passage = HyDE(lambda p: passage["good"], dense, question_weight=0.0, depth=2)
    assert only_passage([question])[0] == ["leave", "baby"]


def test_alignment_log_flags_chunks_without_generated_text():
    aligned = AlignedCorpus(texts=["chunk one", "what is one?", "chunk two"], parents=["c1", "c1", "c2"],
                            kinds=["chunk", "questions", "chunk"])
    log = alignment_log(aligned, {"c1": "chunk one text", "c2": "chunk two text"})
    assert log.summary()["fallbacks"] == 1 and log.summary()["empty"] == 1


# ------------------------------------------------------------------------------------------------ scoring
QUERIES = [
    {"id": "p1", "kind": "paraphrase", "split": "test", "question": "q1", "relevant": ["A"]},
    {"id": "p2", "kind": "paraphrase", "split": "test", "question": "q2", "relevant": ["B"]},
    {"id": "v1", "kind": "vague", "split": "test", "question": "q3", "relevant": ["A", "C"]},
]
DOC_OF = {"a1": "A", "a2": "A", "b1": "B", "c1": "C", "d1": "D"}


def test_evaluate_pipelines_scores_documents_per_kind():
    def good(questions):
        return [["a1", "a2", "b1"], ["b1"], ["c1", "d1", "a2"]][: len(questions)]

    def bad(questions):
        return [["d1"], ["a1", "b1"], ["d1", "a1"]]

    good.llm_calls_per_query = 2.0
    res = evaluate_pipelines(QUERIES, {"good": good, "bad": bad}, DOC_OF, k=2)
    assert res["good"].scores["paraphrase"] == {"ndcg@2": 1.0, "recall@2": 1.0, "n": 2.0}
    assert res["good"].scores["vague"]["recall@2"] == 0.5  # A is third after collapsing c1, d1, a2
    # bad: p1 misses; p2 finds B at rank 2 -> 1/log2(3); vague finds A at rank 2 of 2 relevant
    assert res["bad"].scores["paraphrase"]["ndcg@2"] == pytest.approx((0 + 1 / np.log2(3)) / 2)
    assert res["bad"].scores["vague"]["ndcg@2"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert res["good"].llm_calls_per_query == 2.0 and res["bad"].llm_calls_per_query == 0.0
    assert res["good"].seconds_per_query >= 0
    vague = res["bad"].scores["vague"]["ndcg@2"]
    assert res["bad"].per_query == pytest.approx({"p1": 0.0, "p2": 1 / np.log2(3), "v1": vague})


def test_evaluate_pipelines_refuses_unknown_chunks_and_short_answers():
    with pytest.raises(ValueError, match="doc_of"):
        evaluate_pipelines(QUERIES, {"x": lambda qs: [["zz"]] * len(qs)}, DOC_OF)
    with pytest.raises(ValueError, match="2 rankings for 3"):
        evaluate_pipelines(QUERIES, {"x": lambda qs: [["a1"]] * 2}, DOC_OF)
    with pytest.raises(ValueError, match="No queries"):
        evaluate_pipelines([], {}, DOC_OF)


def test_tune_on_dev_uses_the_kind_and_keeps_the_first_of_ties():
    dev = [{**q, "split": "dev"} for q in QUERIES]
    cands = {"first": lambda qs: [["d1"]] * len(qs), "second": lambda qs: [["d1"]] * len(qs),
             "best": lambda qs: [["b1"]] * len(qs)}
    assert tune_on_dev(cands, dev, DOC_OF, "paraphrase", k=2)[0] == "best"
    assert tune_on_dev(cands, dev, DOC_OF, "vague", k=2)[0] == "first"  # all three score 0 on vague
    with pytest.raises(ValueError, match="vocab_mismatch"):
        tune_on_dev(cands, dev, DOC_OF, "vocab_mismatch")


def test_gain_rows_and_keys():
    def result(name, para, vague):
        return PipelineResult(name, {"paraphrase": {"ndcg@5": para}, "vague": {"ndcg@5": vague}}, 0.0, 0.0)

    results = {"dense": result("dense", 0.5, 0.4), "bm25": result("bm25", 0.6, 0.3),
               "multi_query": result("multi_query", 0.7, 0.35)}
    rows = gain_rows(results)
    assert [(r["kind"], r["targeted"]) for r in rows] == [("paraphrase", True), ("vague", False)]
    assert rows[0]["gain"] == pytest.approx(0.2) and rows[1]["gain"] == pytest.approx(-0.05)
    assert rows[0]["bm25"] == 0.6
    assert TARGETS["multi_query"] == "paraphrase"
    keys = result_keys(results)
    assert keys["rag.kb.advanced.multi_query.paraphrase"] == 0.7
    assert keys["rag.kb.advanced.dense.vague"] == 0.4 and len(keys) == 6
    with pytest.raises(ValueError, match="baseline"):
        gain_rows({"multi_query": results["multi_query"]})
