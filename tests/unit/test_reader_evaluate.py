"""The reader's evaluation: SQuAD 2.0 scores through genai_lab.rag.scoring, the eval command's single JSON
object, the missing-adapter error, and the faithfulness check (a reader must follow a changed number)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.documents import Document

from genai_lab.reader import squad
from genai_lab.reader.cli import eval_main, main
from genai_lab.reader.data import ReaderExample
from genai_lab.reader.evaluate import SQUAD_KEYS, changed_number, faithfulness, load_reader, perturb, squad_report

MINI = {"version": "v2.0", "data": [
    {"title": "Normans", "paragraphs": [{"context": "Normandy is a region in France. Rollo led the Norse.", "qas": [
        {"id": "a1", "question": "Where is Normandy?", "is_impossible": False,
         "answers": [{"text": "France", "answer_start": 24}, {"text": "in France", "answer_start": 21}]},
        {"id": "a2", "question": "Who led the Norse?", "is_impossible": False,
         "answers": [{"text": "Rollo", "answer_start": 32}]},
        {"id": "u1", "question": "Who founded Paris?", "is_impossible": True, "answers": []},
        {"id": "u2", "question": "When did Rollo die?", "is_impossible": True, "answers": []},
    ]}]},
]}
GOLD = {"Where is Normandy?": "France [1]", "Who led the Norse?": "Rollo [1]"}


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(MINI), encoding="utf-8")
    return path


def perfect(examples):
    return [GOLD.get(e.question, "I don't know") for e in examples]


def test_eval_prints_exactly_one_json_object_with_the_keys(squad_file: Path, capsys) -> None:
    assert eval_main(["--squad", str(squad_file)], reader=perfect) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    report = json.loads(out[0])
    assert tuple(report) == SQUAD_KEYS
    assert report == {"em": 1.0, "f1": 1.0, "hasans_f1": 1.0, "noans_accuracy": 1.0, "n": 4}


def test_always_abstaining_scores_the_unanswerable_share_only(squad_file: Path, capsys) -> None:
    eval_main(["--squad", str(squad_file)], reader=lambda ex: ["I don't know"] * len(ex))
    report = json.loads(capsys.readouterr().out)
    assert report["f1"] == 0.5 and report["hasans_f1"] == 0.0 and report["noans_accuracy"] == 1.0


def test_never_abstaining_fails_every_unanswerable_question(squad_file: Path, capsys) -> None:
    eval_main(["--squad", str(squad_file), "--limit", "4"], reader=lambda ex: ["France [1]"] * len(ex))
    report = json.loads(capsys.readouterr().out)
    assert report["noans_accuracy"] == 0.0 and report["hasans_f1"] == 0.5 and report["em"] == 0.25


def test_the_reader_gets_each_paragraph_as_passage_one(squad_file: Path) -> None:
    seen: list[ReaderExample] = []

    def spy(examples):
        seen.extend(examples)
        return perfect(examples)

    eval_main(["--squad", str(squad_file), "--limit", "2"], reader=spy)
    assert len(seen) == 2
    assert all(len(e.docs) == 1 and e.docs[0].page_content.startswith("Normandy") for e in seen)


def test_scores_come_from_the_squad_scorer() -> None:
    qs = [squad.SquadQuestion("a", "t", "c", "q", ("the Normans",)), squad.SquadQuestion("b", "t", "c", "q", ())]
    report = squad_report(qs, ["Normans [1].", "The passages do not contain the answer."])
    assert report["em"] == 1.0 and report["noans_accuracy"] == 1.0  # articles, punctuation, citation ignored
    bare = squad_report(qs, ["[1]", "[1]"])  # a bare citation is neither the answer nor an abstention
    assert bare["em"] == 0.0 and bare["noans_accuracy"] == 0.0
    partial = squad_report(qs[:1], ["the Normans of France [1]"])
    assert partial["f1"] == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    with pytest.raises(ValueError):
        squad_report(qs, ["x"])


def test_bad_input_exits_2_with_a_message(tmp_path: Path, capsys) -> None:
    assert eval_main(["--squad", str(tmp_path / "absent.json")], reader=perfect) == 2
    assert "SQuAD file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        eval_main(["--squad", "x.json", "--base", "--adapter", "a"], reader=perfect)  # mutually exclusive
    assert main([]) == 2


def test_a_missing_adapter_names_how_to_train_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"python -m genai_lab.reader train.*--base"):
        load_reader(tmp_path / "no-adapter")


# ---- faithfulness ---------------------------------------------------------------------------------
def per_diem(number: str = "55") -> ReaderExample:
    docs = [
        Document(page_content="Hotels are capped at 170 EUR per night.", metadata={"source": "travel_2025.md"}),
        Document(page_content=f"The daily meal per diem is {number} EUR; half on travel days.",
                 metadata={"source": "travel_2025.md"}),
    ]
    return ReaderExample("q3", "What is the daily meal per diem?", docs, f"{number} EUR [2]", "grounded",
                         golds=[f"{number} EUR", number], cite=[2])


def reads(examples):
    """A reader that reads: the first number of the cited passage."""
    return [re.search(r"\d+", e.docs[e.cite[0] - 1].page_content).group() + " EUR [2]" for e in examples]


def remembers(examples):
    return ["55 EUR [2]" for _ in examples]


def test_perturb_changes_the_number_in_the_cited_passage_only() -> None:
    case = perturb(per_diem())
    assert case is not None and (case.old, case.new) == ("55", "62")
    assert "62 EUR" in case.example.docs[1].page_content and "55" not in case.example.docs[1].page_content
    assert case.example.docs[0].page_content == per_diem().docs[0].page_content
    assert case.example.golds == ["62 EUR", "62"] and case.example.target == "62 EUR [2]"
    assert perturb(ReaderExample("u", "q", [], "I don't know", "abstain_missing")) is None


def test_changed_number_keeps_the_shape() -> None:
    assert changed_number("55") == "62" and changed_number("0.23") == "0.30" and changed_number("2,500") == "2,507"
    assert changed_number("95") == "02"


def test_faithfulness_tells_a_reader_from_a_memoriser() -> None:
    examples = [per_diem(), per_diem("45")]
    assert faithfulness(examples, reads)["score"] == 1.0
    result = faithfulness(examples, remembers)
    assert result["score"] == 0.0 and result["n"] == 2
    with pytest.raises(ValueError):
        faithfulness([ReaderExample("u", "q", [], "I don't know", "abstain_missing")], reads)


def test_a_file_without_unanswerable_questions_prints_valid_json(tmp_path: Path, capsys) -> None:
    only_answerable = {"version": "v1.1", "data": [{"title": "Normans", "paragraphs": [
        {**MINI["data"][0]["paragraphs"][0], "qas": MINI["data"][0]["paragraphs"][0]["qas"][:2]}]}]}
    path = tmp_path / "v11.json"
    path.write_text(json.dumps(only_answerable), encoding="utf-8")
    assert eval_main(["--squad", str(path)], reader=perfect) == 0
    report = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert report["noans_accuracy"] is None and report["hasans_f1"] == 1.0 and report["n"] == 2
