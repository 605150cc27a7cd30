"""The Korean files stay in sync with the course: goals, README.ko.md's table, the glossary's links."""

from __future__ import annotations

import functools
import importlib.util
import re
import sys

import nbformat
import pytest

from genai_lab.paths import repo_root

ROOT = repo_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LAB_NAMES = {p.stem for p in (ROOT / "solutions").glob("*.ipynb")}



def _script():
    spec = importlib.util.spec_from_file_location("add_korean_goals", ROOT / "scripts" / "add_korean_goals.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
GOALS = SCRIPT.load_goals()


@functools.cache
def _first_cell(path):
    return nbformat.read(path, as_version=4).cells[0].source


def test_every_lecture_notebook_has_korean_goals_in_the_json():
    missing = [p.stem for p in NOTEBOOKS if p.stem not in GOALS]
    assert not missing, f"add Korean goals for {missing} to docs/ko_goals.json"
    stale = sorted(set(GOALS) - {p.stem for p in NOTEBOOKS})
    assert not stale, f"docs/ko_goals.json names notebooks that do not exist: {stale}"


@pytest.mark.parametrize("stem", sorted(GOALS))
def test_korean_goals_are_korean(stem):
    for goal in GOALS[stem]:
        assert re.search(r"[\uac00-\ud7a3]", goal), f"{stem}: goal without Hangul: {goal!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_first_cell_carries_the_json_goals(path):
    found = SCRIPT.korean_goals_in(_first_cell(path))
    assert found == GOALS[path.stem], (
        f"{path.name}: its '학습 목표' list differs from docs/ko_goals.json; run scripts/add_korean_goals.py"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_insertion_is_idempotent_and_keeps_the_english_goals(path):
    text = _first_cell(path)
    once = SCRIPT.with_korean_goals(text, GOALS[path.stem], path.name)
    assert SCRIPT.with_korean_goals(once, GOALS[path.stem], path.name) == once
    assert SCRIPT.korean_goals_in(once) == GOALS[path.stem]
    english = SCRIPT.list_block(text.split("\n"), SCRIPT.ENGLISH_HEADING)
    assert SCRIPT.list_block(once.split("\n"), SCRIPT.ENGLISH_HEADING)[2] == english[2]
    lines = once.split("\n")
    korean_at = lines.index(SCRIPT.KOREAN_HEADING)
    assert korean_at == english[1] + 1, "the Korean list comes right after the English list"


def test_insertion_replaces_an_old_korean_list_and_refuses_a_cell_without_goals():
    cell = "# T\n\n**Learning goals**\n- one\n  more\n- two\n\n**학습 목표**\n- 옛 목표\n\nAfter."
    new = SCRIPT.with_korean_goals(cell, ["하나", "둘"])
    assert new == "# T\n\n**Learning goals**\n- one\n  more\n- two\n\n**학습 목표**\n- 하나\n- 둘\n\nAfter."
    with pytest.raises(ValueError, match="Learning goals"):
        SCRIPT.with_korean_goals("# T\n\nNo goals here.", ["하나"])


def test_update_notebook_writes_only_the_first_cell(tmp_path):
    src = NOTEBOOKS[0]
    nb = nbformat.read(src, as_version=4)
    copy = tmp_path / src.name
    nbformat.write(nb, copy)
    already = SCRIPT.korean_goals_in(nb.cells[0].source) == GOALS[src.stem]
    assert SCRIPT.update_notebook(copy, GOALS, write=True) is not already
    assert SCRIPT.update_notebook(copy, GOALS, write=True) is False
    after = nbformat.read(copy, as_version=4)
    assert [c.source for c in after.cells[1:]] == [c.source for c in nb.cells[1:]]
    assert [c.get("outputs") for c in after.cells[1:]] == [c.get("outputs") for c in nb.cells[1:]]
    with pytest.raises(KeyError, match="ko_goals.json"):
        SCRIPT.update_notebook(copy, {}, write=False)


def _links(path):
    return re.findall(r"\]\(([^)#\s]+)\)", path.read_text(encoding="utf-8"))


def test_readme_ko_table_names_only_existing_notebooks_and_labs():
    text = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    for target in _links(ROOT / "README.ko.md"):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.ko.md links to {target}, which does not exist"
    table = [line for line in text.splitlines() if line.startswith("| ") and "notebooks/" in line]
    named = {name for line in table for name in re.findall(r"`(\d\d_[a-z0-9_]+)`", line)}
    unknown = sorted(n for n in named if not (ROOT / "notebooks" / f"{n}.ipynb").exists() and n not in LAB_NAMES)
    assert not unknown, f"README.ko.md's table names {unknown}, which are neither notebooks nor labs"
    listed = {re.search(r"notebooks/(\d\d_[a-z0-9_]+)\.ipynb", line).group(1) for line in table}
    assert listed == {p.stem for p in NOTEBOOKS}, "README.ko.md's table must list every lecture notebook once"
    for section in ("PEFT", "배포/vLLM", "RAG", "AI APP"):
        assert f"| {section} |" in text, f"README.ko.md's table lacks the lecture section {section}"


def test_glossary_links_point_to_existing_notebooks():
    glossary = ROOT / "docs" / "glossary.md"
    links = _links(glossary)
    notebook_links = [t for t in links if t.endswith(".ipynb")]
    assert len(notebook_links) >= 30
    for target in links:
        assert (glossary.parent / target).resolve().exists(), f"docs/glossary.md links to {target}: it does not exist"
    rows = [line for line in glossary.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| 한국어")]
    without = [row for row in rows if ".ipynb)" not in row]
    assert not without, f"every glossary term links to its notebook: {without[:3]}"
    text = glossary.read_text(encoding="utf-8")
    for term in ("정렬 최적화", "청킹", "환각", "멀티 쿼리", "LoRA", "어댑터", "KV 캐시", "양자화", "임베딩"):
        assert term in text, f"the glossary lacks {term}"
