"""SQuAD-format loading (strict, clear errors) and the split of SQuAD 2.0 by article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_lab.reader import squad


def squad_file(tmp_path: Path, data: object, name: str = "mini.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


MINI = {"version": "v2.0", "data": [
    {"title": "Normans", "paragraphs": [{"context": "Normandy is a region in France.", "qas": [
        {"id": "a1", "question": "Where is Normandy?", "is_impossible": False,
         "answers": [{"text": "France", "answer_start": 24}, {"text": "in France", "answer_start": 21},
                     {"text": "France", "answer_start": 24}]},
        {"id": "a2", "question": "Who founded Normandy in 1700?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "Rollo", "answer_start": 0}]},
    ]}]},
    {"title": "Steam_engine", "paragraphs": [{"context": "Watt improved it.", "qas": [
        {"id": "b1", "question": "Who improved it?", "answers": [{"text": "Watt", "answer_start": 0}]},
    ]}]},
]}


def test_loads_questions_in_file_order(tmp_path: Path) -> None:
    qs = squad.load_squad(squad_file(tmp_path, MINI))
    assert [q.id for q in qs] == ["a1", "a2", "b1"]
    assert qs[0].answers == ("France", "in France", "France") and qs[0].answerable
    assert qs[1].answers == () and not qs[1].answerable  # plausible answers are not gold answers
    assert qs[2].title == "Steam_engine" and qs[2].answerable  # SQuAD 1.1: no is_impossible field


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"data": {}}, r"'data' should be a list"),
        ({"data": [{"title": "t", "paragraphs": [{"qas": []}]}]}, r"data\[0\]\.paragraphs\[0\]\.context"),
        ({"data": [{"title": "t", "paragraphs": [{"context": "c"}]}]}, r"data\[0\]\.paragraphs\[0\]\.qas"),
        ({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q", "answers": []}]}]}]},
         r"qas\[0\]\.question"),
        ({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q", "question": "?", "answers": [{}]}]}]}]},
         r"answers\[0\]\.text"),
        ({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q", "question": "?", "answers": []}]}]}]},
         r"not marked is_impossible"),
        ({"data": []}, r"holds no questions"),
        ([1, 2], r"top level should be a dict"),
    ],
)
def test_a_malformed_file_names_the_problem(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        squad.load_squad(squad_file(tmp_path, data))


def test_missing_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="SQuAD file not found"):
        squad.load_squad(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        squad.load_squad(bad)


def test_the_split_file_separates_the_ten_articles() -> None:
    split = squad.load_split()
    train, dev, test = (set(split[s]) for s in squad.SPLITS)
    assert not (train & test) and not (train & dev) and not (dev & test)
    assert len(train | dev | test) == 10 and test and dev


def test_no_test_article_reaches_training(tmp_path: Path) -> None:
    split = {"train": ["Normans"], "dev": [], "test": ["Steam_engine"]}
    qs = squad.load_squad(squad_file(tmp_path, MINI))
    assert [q.id for q in squad.select_split(qs, "train", split)] == ["a1", "a2"]
    assert [q.id for q in squad.select_split(qs, "test", split)] == ["b1"]
    with pytest.raises(ValueError, match="Articles in no split"):
        squad.select_split(qs, "train", {"train": ["Normans"], "dev": [], "test": []})


def test_a_split_file_with_an_article_twice_is_refused(tmp_path: Path) -> None:
    path = squad_file(tmp_path, {"train": ["A", "B"], "dev": ["B"], "test": []}, "split.json")
    with pytest.raises(ValueError, match="more than one split"):
        squad.load_split(path)


def test_the_benchmark_split_by_article() -> None:
    from genai_lab.paths import benchmark

    if benchmark("squad2") is None:
        pytest.skip("the squad2 benchmark folder is absent")
    qs = squad.load_squad(squad.squad2_path())
    split = squad.load_split()
    parts = {s: squad.select_split(qs, s, split) for s in squad.SPLITS}
    assert {s: len(v) for s, v in parts.items()} == {"train": 2464, "dev": 208, "test": 1021}
    assert not {q.title for q in parts["train"]} & set(split["test"])
    assert sum(not q.answerable for q in qs) == 1971


def test_sample_is_seeded_and_keeps_file_order(tmp_path: Path) -> None:
    qs = squad.load_squad(squad_file(tmp_path, MINI))
    assert squad.sample(qs, None) == qs and squad.sample(qs, 10) == qs
    one, again = squad.sample(qs, 2, seed=3), squad.sample(qs, 2, seed=3)
    assert one == again and len(one) == 2 and [qs.index(q) for q in one] == sorted(qs.index(q) for q in one)
    with pytest.raises(ValueError):
        squad.sample(qs, 0)


def test_examples_cite_their_paragraph_or_abstain(tmp_path: Path) -> None:
    a1, a2, _ = squad.load_squad(squad_file(tmp_path, MINI))
    ex = squad.to_example(a1)
    assert ex.target == "France [1]" and ex.cite == [1] and ex.docs[0].metadata["source"] == "Normans"
    assert ex.docs[0].page_content == a1.context and ex.golds == list(a1.answers)
    no = squad.to_example(a2)
    assert no.target == "I don't know" and no.cite == [] and no.golds == []
