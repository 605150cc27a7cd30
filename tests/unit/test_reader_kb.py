"""Knowledge-base examples for the reader: distractors, citations that point at the answer, abstention
without the answer, the latest version cited, and a split by document that keeps test out of training."""

from __future__ import annotations

import json

import pytest

from genai_lab.rag.scoring import contains_answer
from genai_lab.reader import kb as rkb


@pytest.fixture(scope="module")
def base() -> rkb.KnowledgeBase:
    return rkb.KnowledgeBase.load()


@pytest.fixture(scope="module")
def examples(base: rkb.KnowledgeBase) -> dict[str, list]:
    return {s: rkb.build_examples(base, s) for s in rkb.SPLITS}


def gold_paths(ex) -> set[str]:
    return set(ex.meta["sources"])


def test_the_split_covers_every_document_once_and_keeps_versions_together(base: rkb.KnowledgeBase) -> None:
    from genai_lab.paths import data_dir

    split = rkb.load_kb_split()
    manifest = json.loads((data_dir() / "kb" / "manifest.json").read_text(encoding="utf-8"))
    paths = [d["path"] for d in manifest["documents"]]
    listed = [p for s in rkb.SPLITS for p in split[s]]
    assert sorted(listed) == sorted(paths)
    where = {p: s for s in rkb.SPLITS for p in split[s]}
    for family in base.families.values():
        assert len({where[p] for p in family}) == 1, family
    assert any(where[p] == "test" for p in base.families)  # latest-version questions are tested unseen
    ids = [i for s in rkb.SPLITS for i in split["unanswerable"][s]]
    assert sorted(ids) == sorted(q["id"] for q in base.questions if q["kind"] == "unanswerable")


def test_every_kind_is_built(examples: dict[str, list]) -> None:
    kinds = {e.kind for e in examples["train"]}
    assert kinds == {"grounded", "latest_version", "named_version", "abstain_missing", "abstain_unanswerable"}
    tested = {e.kind for e in examples["test"]}
    assert {"grounded", "latest_version", "abstain_missing", "abstain_unanswerable"} <= tested


def test_grounded_examples_have_distractors_and_cite_the_passage_with_the_answer(examples: dict[str, list]) -> None:
    answered = [e for s in rkb.SPLITS for e in examples[s] if e.cite]
    assert len(answered) > 100
    for ex in answered:
        assert len(ex.docs) >= rkb.PASSAGES
        cited = [ex.docs[n - 1] for n in ex.cite]
        assert {d.metadata["source"] for d in cited} <= gold_paths(ex)
        if ex.meta["question_kind"] != "multi_doc":  # a multi-document answer is in no single passage
            assert any(contains_answer(d.page_content, ex.golds[0], ex.golds[1:]) for d in cited), ex.id
        uncited = [d for i, d in enumerate(ex.docs, 1) if i not in ex.cite]
        assert uncited, "no distractor"
        assert ex.target.endswith(f"[{', '.join(map(str, ex.cite))}]")
    positions = {ex.cite[0] for ex in answered}
    assert positions == {1, 2, 3, 4}  # the answer is not always in the same place


def test_abstention_examples_hold_no_passage_of_the_answers_document(
    examples: dict[str, list], base: rkb.KnowledgeBase
) -> None:
    missing = [e for s in rkb.SPLITS for e in examples[s] if e.kind == "abstain_missing"]
    assert missing
    for ex in missing:
        family = {p for g in gold_paths(ex) for p in base.families.get(g, [g])}
        assert ex.target == "I don't know" and not ex.cite and len(ex.docs) == rkb.PASSAGES
        assert not {d.metadata["source"] for d in ex.docs} & family, ex.id
    for ex in (e for s in rkb.SPLITS for e in examples[s] if e.kind == "abstain_unanswerable"):
        assert ex.target == "I don't know" and len(ex.docs) == rkb.PASSAGES


def test_latest_version_examples_cite_the_newest_with_the_older_present(
    examples: dict[str, list], base: rkb.KnowledgeBase
) -> None:
    latest = [e for s in rkb.SPLITS for e in examples[s] if e.kind == "latest_version"]
    assert latest
    for ex in latest:
        sources = [d.metadata["source"] for d in ex.docs]
        versioned = {ex.docs[n - 1].metadata["source"] for n in ex.cite} & set(base.families)
        assert versioned, ex.id
        for newest in versioned:
            family = base.families[newest]
            assert newest == family[-1]
            assert any(s in family[:-1] for s in sources)  # the superseded version conflicts in the context
    named = [e for s in rkb.SPLITS for e in examples[s] if e.kind == "named_version"]
    assert named
    for ex in named:
        versioned = {ex.docs[n - 1].metadata["source"] for n in ex.cite} & set(base.families)
        assert any(cited != base.families[cited][-1] for cited in versioned)


def test_training_examples_see_no_test_or_dev_document(examples: dict[str, list]) -> None:
    split = rkb.load_kb_split()
    held_out = set(split["test"]) | set(split["dev"])
    for ex in examples["train"]:
        assert not {d.metadata["source"] for d in ex.docs} & held_out, ex.id
    ids = {e.id.split("-")[0] for e in examples["train"]}
    assert not ids & {e.id.split("-")[0] for e in examples["test"]}


def test_examples_are_deterministic(base: rkb.KnowledgeBase, examples: dict[str, list]) -> None:
    again = rkb.build_examples(base, "dev")
    assert [(e.id, e.target, [d.page_content for d in e.docs]) for e in again] == [
        (e.id, e.target, [d.page_content for d in e.docs]) for e in examples["dev"]
    ]
    with pytest.raises(ValueError):
        rkb.build_examples(base, "valid")


def test_version_families_follow_supersedes() -> None:
    manifest = {"documents": [{"path": "a1"}, {"path": "a2", "supersedes": "a1"}, {"path": "a3", "supersedes": "a2"},
                              {"path": "b"}]}
    families = rkb.version_families(manifest)
    assert families["a1"] == families["a3"] == ["a1", "a2", "a3"] and "b" not in families


def test_question_split_needs_all_sources_in_one_split() -> None:
    split = {"train": ["a"], "dev": ["b"], "test": [], "unanswerable": {"train": [], "dev": ["u"], "test": []}}
    assert rkb.question_split({"id": "q", "sources": [{"path": "a"}]}, split) == "train"
    assert rkb.question_split({"id": "q", "sources": [{"path": "a"}, {"path": "b"}]}, split) is None
    assert rkb.question_split({"id": "u", "sources": []}, split) == "dev"
    assert rkb.question_split({"id": "q", "sources": [{"path": "zzz"}]}, split) is None
