"""The company knowledge base in data/kb meets its contract: size, variety, and a question set whose
gold answers are where it says they are."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from genai_lab.paths import data_dir, repo_root
from genai_lab.rag.loaders import load_documents, read_questions
from genai_lab.rag.scoring import contains_answer

KB = data_dir() / "kb"
KINDS = {"single_fact", "table", "multi_doc", "unanswerable"}


@lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads((KB / "manifest.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def loaded():
    return load_documents(KB)


def test_manifest_lists_every_file_and_nothing_else():
    listed = {d["path"] for d in manifest()["documents"]}
    on_disk = {p.relative_to(KB).as_posix() for p in KB.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json", "questions.jsonl"}
    assert listed <= on_disk


def test_size_and_variety():
    m = manifest()
    docs = m["documents"]
    assert m["company"] and len(m["internal_projects"]) >= 2
    assert len(docs) >= 40
    formats = Counter(d["format"] for d in docs)
    assert {"pdf", "markdown", "json", "csv"} <= set(formats)
    assert min(formats.values()) >= 4
    types = {d["type"] for d in docs}
    assert {"policy", "manual", "meeting_notes", "faq", "price_list", "org_chart", "incident_report"} <= types
    classes = Counter(d["classification"] for d in docs)
    assert set(classes) == {"public", "internal", "confidential"}
    assert classes["confidential"] >= 3
    assert all(d.get("pages", 1) >= 1 for d in docs if d["format"] == "pdf")
    assert any(d.get("pages", 0) >= 3 for d in docs if d["format"] == "pdf")
    size = sum(p.stat().st_size for p in KB.rglob("*") if p.is_file())
    assert size < 3_000_000, f"data/kb is {size / 1e6:.1f} MB; keep it to a few MB"


def test_tables_inside_markdown_and_pdf():
    md_tables = [p for p in KB.rglob("*.md") if "|---|" in p.read_text(encoding="utf-8")]
    assert len(md_tables) >= 2
    pdf_pages = [d for d in loaded().documents if d.metadata["type"] == "pdf"]
    assert any("Property Value" in d.page_content for d in pdf_pages)


def test_conflicting_dated_versions():
    docs = {d["path"]: d for d in manifest()["documents"]}
    pairs = [(d, docs[d["supersedes"]]) for d in docs.values() if "supersedes" in d]
    assert len(pairs) >= 3
    for new, old in pairs:
        assert new["date"] > old["date"], (new["path"], old["path"])


def test_internal_projects_appear_in_non_public_documents():
    text = {d.metadata["source"]: d.page_content for d in loaded().documents}
    secret = {d["path"] for d in manifest()["documents"] if d["classification"] != "public"}
    for project in manifest()["internal_projects"]:
        name = project.split()[-1]
        assert any(name in t for s, t in text.items() if s in secret), project


def test_every_document_loads():
    result = loaded()
    assert result.errors == []
    assert {d.metadata["source"] for d in result.documents} == {d["path"] for d in manifest()["documents"]}


def test_question_set_contract():
    questions = read_questions(KB)
    assert len(questions) >= 120
    assert len({q["id"] for q in questions}) == len(questions)
    kinds = Counter(q["kind"] for q in questions)
    assert set(kinds) == KINDS and min(kinds.values()) >= 15, kinds
    for q in questions:
        assert q["question"].endswith("?") and q["answer"], q["id"]
        if q["kind"] == "unanswerable":
            assert q["answer"] == "not in the documents" and q["sources"] == []
        else:
            assert q["sources"], q["id"]
        if q["kind"] == "multi_doc":
            assert len({s["path"] for s in q["sources"]}) >= 2 or len(q["sources"]) >= 2, q["id"]


def test_gold_sources_exist_and_hold_the_answer():
    units: dict[tuple, list[str]] = {}
    for doc in loaded().documents:
        m = doc.metadata
        units.setdefault((m["source"], m["page"] if m["type"] == "pdf" else m["section"]), []).append(
            doc.page_content
        )
    for q in read_questions(KB):
        texts = []
        for s in q["sources"]:
            key = (s["path"], s.get("page", s.get("section")))
            assert key in units, f"{q['id']}: no unit {key} in the loaded knowledge base"
            texts.extend(units[key])
        if q["kind"] in ("single_fact", "table"):
            assert any(contains_answer(t, q["answer"], q["aliases"]) for t in texts), (
                f"{q['id']}: neither {[q['answer'], *q['aliases']]} appears (as whole words) in {q['sources']}"
            )


def test_paths_are_inside_the_kb():
    for d in manifest()["documents"]:
        assert not Path(d["path"]).is_absolute() and ".." not in d["path"]


# ---------------------------------------------------------------------------------------------
# The sources in data/kb_src and the build script's checks (no PDF is rendered here)
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def build_kb():
    """scripts/build_kb.py as a module (scripts/ is not a package)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("build_kb", repo_root() / "scripts" / "build_kb.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_sources_give_the_committed_question_set_and_document_list():
    kb = build_kb()
    company, documents, spanning = kb.load_sources()
    assert kb.collect_questions(documents, spanning) == read_questions(KB)
    assert sorted(d.path for d in documents) == sorted(d["path"] for d in manifest()["documents"])
    assert company["company"] == manifest()["company"]


def _copy_sources(tmp_path: Path) -> Path:
    src = tmp_path / "kb_src"
    shutil.copytree(data_dir() / "kb_src", src)
    return src


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("sales/price_list_2025.csv.yaml", "'349'", "349"), "quote numbers"),
        (("policies/leave_policy.md", "classification: internal", "classification: secret"), "classification"),
        (("policies/leave_policy.md", "id: q", "id: x"), "needs an id like"),
        (("incidents/INC-2025-004.md", "severity: SEV2", "severity: SEV1"), "disagrees with the front matter"),
        (("manuals/lumen_s1_manual.pdf.md", "|---|---|", "| a | b |"), "header rule"),
        (("questions.yaml", "path: company/org_chart.json", "path: company/org.json"), "is not a document"),
    ],
)
def test_a_malformed_source_gets_an_error_that_names_the_file_and_leaves_the_output(tmp_path, edit, message):
    kb = build_kb()
    src = _copy_sources(tmp_path)
    name, old, new = edit
    path = src / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    out = tmp_path / "kb"
    out.mkdir()
    (out / "keep.txt").write_text("old build", encoding="utf-8")
    with pytest.raises(kb.KBSourceError, match=message):
        kb.build(out, src)
    assert (out / "keep.txt").exists(), "a failed build must not delete the previous output"


def test_a_duplicate_question_id_is_refused(tmp_path):
    kb = build_kb()
    src = _copy_sources(tmp_path)
    path = src / "policies" / "leave_policy.md"
    first = read_questions(KB)[0]["id"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("- id: q", f"- id: {first}\n  question: Dup?\n  answer: x\n  section: y\n- id: q", 1),
                    encoding="utf-8")
    with pytest.raises(kb.KBSourceError, match=f"{first} is used twice"):
        kb.build(tmp_path / "kb", src)
