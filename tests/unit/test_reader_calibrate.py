"""The reader's abstention bias: the first-token rule, the dev sweep and its choice, the file beside the
adapter, and real decoding on a tiny random Llama (a large bias must abstain, a ban must not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from langchain_core.documents import Document

from genai_lab.rag.scoring import ABSTENTION
from genai_lab.reader.calibrate import (
    BAN,
    DECODING_FILE,
    FirstTokenScores,
    abstention_token_id,
    answers_at,
    bias_kwargs,
    choose_bias,
    first_token_scores,
    load_bias,
    logit_bias,
    save_bias,
    separation,
    sweep,
)
from genai_lab.reader.data import ReaderExample
from genai_lab.reader.evaluate import GreedyReader
from genai_lab.reader.squad import SquadQuestion


def question(qid: str, answers: list[str]) -> SquadQuestion:
    context = "Rollo led the Norse in 911."
    return SquadQuestion(id=qid, title="t", context=context, question="q?", answers=tuple(answers))


QUESTIONS = [question("a1", ["Rollo"]), question("a2", ["911"]), question("u1", []), question("u2", [])]
# a1 is sure of its answer, a2 less so; u1 leans to abstaining, u2 barely.
SCORES = FirstTokenScores(gaps=[-3.0, -1.0, 0.5, -0.5], answers=["Rollo [1]", "911 [1]", "Paris [1]", "Norse [1]"])


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from genai_lab.models import prepare_smollm2

    return AutoTokenizer.from_pretrained(prepare_smollm2())


def test_the_rule_abstains_where_gap_plus_bias_is_positive() -> None:
    assert answers_at(SCORES, 0.0) == ["Rollo [1]", "911 [1]", ABSTENTION, "Norse [1]"]
    assert answers_at(SCORES, 0.5) == ["Rollo [1]", "911 [1]", ABSTENTION, "Norse [1]"]  # u2: 0 is not > 0
    assert answers_at(SCORES, 1.5) == ["Rollo [1]", ABSTENTION, ABSTENTION, ABSTENTION]
    assert answers_at(SCORES, -1.0) == ["Rollo [1]", "911 [1]", "Paris [1]", "Norse [1]"]
    assert answers_at(SCORES, 4.0) == [ABSTENTION] * 4


def test_the_sweep_scores_each_bias_and_the_choice_is_the_best_balanced() -> None:
    rows = sweep(QUESTIONS, SCORES, grid=(-1.0, 0.0, 0.5, 0.75, 1.5, 4.0))
    by_bias = {r["bias"]: r for r in rows}
    assert (by_bias[-1.0]["hasans_f1"], by_bias[-1.0]["noans_accuracy"]) == (1.0, 0.0)  # never abstains
    assert (by_bias[0.0]["hasans_f1"], by_bias[0.0]["noans_accuracy"]) == (1.0, 0.5)
    assert by_bias[0.5]["balanced"] == 0.75
    assert (by_bias[0.75]["hasans_f1"], by_bias[0.75]["noans_accuracy"]) == (1.0, 1.0)
    assert (by_bias[1.5]["hasans_f1"], by_bias[1.5]["noans_accuracy"]) == (0.5, 1.0)
    assert by_bias[4.0]["f1"] == 0.5 and by_bias[4.0]["balanced"] == 0.5  # always abstaining: not chosen
    assert choose_bias(rows) == 0.75


def test_separation_is_the_auc_of_the_gap() -> None:
    # unanswerable gaps 0.5 and -0.5 against answerable -3 and -1: 4 of 4 pairs ordered right.
    assert separation(QUESTIONS, SCORES) == 1.0
    flipped = FirstTokenScores([0.5, -0.5, -3.0, -1.0], SCORES.answers)
    assert separation(QUESTIONS, flipped) == 0.0
    assert separation(QUESTIONS, FirstTokenScores([0.0] * 4, SCORES.answers)) == 0.5  # ties count half
    with pytest.raises(ValueError, match="both"):
        separation(QUESTIONS[:2], FirstTokenScores(SCORES.gaps[:2], SCORES.answers[:2]))


def test_of_equal_scores_the_smallest_change_wins() -> None:
    rows = [{"bias": b, "balanced": 0.6, "hasans_f1": 0.5} for b in (-2.0, -0.25, 0.5)]
    assert choose_bias(rows) == -0.25


def test_the_choice_keeps_answerable_f1_above_the_floor_where_it_can() -> None:
    # The best balance abstains on most answerable questions: the floor rules it out.
    rows = [{"bias": -1.0, "balanced": 0.50, "hasans_f1": 0.45}, {"bias": -0.5, "balanced": 0.51, "hasans_f1": 0.41},
            {"bias": 0.75, "balanced": 0.53, "hasans_f1": 0.16}]
    assert choose_bias(rows) == -0.5
    assert choose_bias(rows, min_hasans_f1=0.0) == 0.75
    assert choose_bias(rows, min_hasans_f1=0.9) == 0.75  # no bias reaches the floor: the best balance
    with pytest.raises(ValueError, match="sweep"):
        choose_bias([])


def test_tuning_needs_both_kinds_of_question() -> None:
    with pytest.raises(ValueError, match="answerable and unanswerable"):
        sweep(QUESTIONS[:2], FirstTokenScores(SCORES.gaps[:2], SCORES.answers[:2]))


def test_the_bias_file_round_trips_and_feeds_both_backends(tmp_path: Path, tokenizer) -> None:
    assert load_bias(tmp_path) == 0.0 and load_bias(None) == 0.0 and logit_bias(tmp_path) == {}
    token = abstention_token_id(tokenizer)
    assert tokenizer.decode([token]) == "I"
    save_bias(tmp_path, -0.75, token, {"tuned_on": "test"})
    assert load_bias(tmp_path) == -0.75
    assert logit_bias(tmp_path) == {str(token): -0.75}
    assert bias_kwargs(tokenizer, -0.75) == {"sequence_bias": {(token,): -0.75}}
    assert bias_kwargs(tokenizer, 0.0) == {}


@pytest.mark.parametrize("content", ["{}", '{"abstain_bias": "high"}', "not json", '{"abstain_bias": NaN}'])
def test_a_broken_bias_file_is_an_error_that_names_the_fix(tmp_path: Path, content: str) -> None:
    (tmp_path / DECODING_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="calibrate|finite"):
        load_bias(tmp_path)


def examples(n: int = 3) -> list[ReaderExample]:
    docs = [Document(page_content="The hub links 64 sensors.", metadata={"source": "hub.md"})]
    return [ReaderExample(f"e{i}", f"How many sensors, {i}?", docs, "64 [1]", "grounded") for i in range(n)]


def test_real_decoding_follows_the_bias_on_a_tiny_model(tokenizer) -> None:
    from genai_lab.models import tiny_llama

    torch.manual_seed(0)
    model = tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=1024).eval()
    reader = GreedyReader(model, tokenizer, max_new_tokens=4, batch_size=2)
    token = abstention_token_id(tokenizer)
    assert all(a.startswith("I") for a in reader.read(examples(), 100.0)[0])  # forced towards abstaining
    scores = first_token_scores(reader, examples())
    assert len(scores.gaps) == len(scores.answers) == 3
    banned, logits = reader.read(examples(), BAN, first_logits=True)
    assert banned == scores.answers and not any(a.startswith("I ") or a == "I" for a in banned)
    # The gap is read from the raw logits, before the ban: the same as computing it by hand.
    row = logits[0].clone()
    expected = float(row[token] - torch.cat([row[:token], row[token + 1 :]]).max())
    assert scores.gaps[0] == pytest.approx(expected)
    # The first-token rule agrees with real decoding at the first token for a bias on either side of a gap.
    gap = scores.gaps[0]
    for bias in (-gap - 1.0, -gap + 1.0):
        first = reader.read(examples(1), bias)[0][0]
        assert first.startswith("I") == (gap + bias > 0), (bias, gap, first)


def test_the_chat_models_carry_the_bias(tmp_path: Path, monkeypatch) -> None:
    """vLLM's request body gets logit_bias for the served reader, and none for the base model."""
    import genai_lab.reader.train as train
    from genai_lab.rag.llm import _openai_chat

    save_bias(tmp_path, -0.5, 57, {"tuned_on": "test"})
    monkeypatch.setattr(train, "adapter_dir", lambda: tmp_path)
    reader = _openai_chat("http://127.0.0.1:9/v1", "reader", 16)
    assert reader.extra_body == {"logit_bias": {"57": -0.5}}
    base = _openai_chat("http://127.0.0.1:9/v1", "smollm2", 16)
    assert not base.extra_body
    assert json.loads((tmp_path / DECODING_FILE).read_text())["token_id"] == 57


def test_calibrate_without_dev_articles_exits_2_with_the_fix(tmp_path: Path, capsys) -> None:
    from genai_lab.reader.cli import main

    path = tmp_path / "other.json"
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "Not in the split", "paragraphs": [
        {"context": "Rollo led the Norse.", "qas": [{"id": "x", "question": "Who?", "is_impossible": True,
                                                      "answers": []}]}]}]}), encoding="utf-8")
    assert main(["calibrate", "--squad", str(path), "--adapter", str(tmp_path)]) == 2
    assert "squad2_split.json" in capsys.readouterr().err  # the articles of no split: names the file to edit
    assert not (tmp_path / DECODING_FILE).exists()


def test_eval_uses_the_adapters_bias_and_none_for_the_base_model(tmp_path: Path) -> None:
    import argparse

    from genai_lab.reader.cli import add_eval_arguments, default_bias

    save_bias(tmp_path, 1.25, 57, {})
    parse = add_eval_arguments(argparse.ArgumentParser()).parse_args
    assert default_bias(parse(["--squad", "f.json", "--adapter", str(tmp_path)])) == 1.25
    assert default_bias(parse(["--squad", "f.json", "--base"])) == 0.0
    assert parse(["--squad", "f.json", "--abstain-bias", "-0.5"]).abstain_bias == -0.5
