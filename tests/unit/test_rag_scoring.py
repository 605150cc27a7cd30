"""The answer scorer: SQuAD 2.0's official definitions on hand-made cases, the bounded "contains" check,
abstention and citations.

The expected SQuAD values are worked out by hand from the official evaluate-v2.0.py: normalise (lower
case, punctuation out, articles a/an/the out, whitespace collapsed), exact match, bag-of-tokens F1 with
multiplicity, the maximum over gold answers, and the single gold answer "" for an unanswerable question.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from genai_lab.rag.scoring import (
    answer_tokens,
    cited_sources,
    contains_answer,
    exact_match,
    is_abstention,
    normalize_answer,
    squad_scores,
    token_f1,
    unbounded_contains,
)


# --- SQuAD 2.0 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Atrium Hub, H2!", "atrium hub h2"),
        ("an apple a day", "apple day"),
        ("Theory of the case", "theory of case"),  # "the" only as a whole word
        ("1,200", "1200"),
        ("4.5 W", "45 w"),  # the official script drops the decimal point too
        ("Q1-2026", "q12026"),
        ("  ", ""),
    ],
)
def test_normalize_answer_is_squads(text, expected):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    ("prediction", "gold", "exact", "f1"),
    [
        ("Eindhoven.", "eindhoven", 1, 1.0),
        ("the Eindhoven office", "Eindhoven", 0, 2 / 3),  # pred [eindhoven, office]: P 1/2, R 1
        ("Noah van Dijk", "Noah van Dijk, Data Science Lead", 0, 2 / 3),  # P 1, R 1/2
        ("the the cat cat cat", "cat cat dog", 0, 2 / 3),  # tokens counted with multiplicity: 2 shared
        ("Rotterdam", "Eindhoven", 0, 0.0),
        ("", "Eindhoven", 0, 0.0),  # no prediction on an answerable question
        ("", "", 1, 1.0),  # both no-answer
        ("JavaScript", "", 0, 0.0),  # an answer where none exists
        ("4.5", "45", 1, 1.0),  # punctuation removal merges the digits, as in the official script
    ],
)
def test_exact_match_and_token_f1_on_hand_made_cases(prediction, gold, exact, f1):
    assert exact_match(prediction, gold) == exact
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_squad_scores_take_the_maximum_over_gold_answers():
    # "55 EUR": P 2/6, R 1 -> 0.5; "55": P 1/6, R 1 -> 2/7; the maximum is 0.5
    assert squad_scores("It is 55 EUR per day", ["55 EUR", "55"]) == (0, pytest.approx(0.5))
    assert squad_scores("55", ["55 EUR", "55"]) == (1, 1.0)


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("", [], (1, 1.0)),  # unanswerable: the empty prediction is the only right answer
        ("I don't know.", [], (1, 1.0)),  # the course's abstention counts as the empty prediction
        ("The context does not contain it.", [], (1, 1.0)),
        ("It is written in JavaScript.", [], (0, 0.0)),
        ("", ["the", "!"], (1, 1.0)),  # gold answers that normalise to nothing: unanswerable
        ("I don't know", ["Eindhoven"], (0, 0.0)),  # abstaining on an answerable question scores 0
    ],
)
def test_unanswerable_questions_score_only_an_abstention(prediction, golds, expected):
    assert squad_scores(prediction, golds) == expected


# --- the bounded "contains" -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "gold", "aliases", "expected"),
    [
        ("The price rose in 2024.", "20 EUR", ["20"], False),  # "20" is not a whole number of "2024"
        ("Logged as INC-2025-030.", "3", ["three"], False),
        ("There are 3 incidents: INC-2025-004, ...", "3", [], True),
        ("It has 1200 sensors.", "1,200", [], True),
        ("It has 1,200 sensors.", "1200", [], True),
        ("It lasts 3 years.", "3", [], True),
        ("It lasts 3 years.", "3 years", [], True),
        ("It uses 45 W.", "4.5 W", ["4.5"], False),  # decimals stay whole
        ("Firmware 4.1.10 fixed it.", "4.1.1", [], False),
        ("Firmware 4.1.1 fixed it.", "4.1.1", [], True),
        ("It costs 1,290 euros.", "1290 EUR", [], True),
        ("It costs €349.", "349 EUR", ["349"], True),
        ("Economy class.", "Premium", [], False),
        ("THE HUB H3", "the Atrium Hub H3", ["hub h3"], True),
        ("Lasts years, 3 of them", "3 years", [], False),  # the gold's tokens in order
        ("Which API path lists the devices of a site?", "/sites/{id}/devices", ["/devices"], False),
        ("Use GET /sites/{id}/devices.", "/sites/{id}/devices", ["/devices"], True),
        ("It opened on 2020-04-25.", "2020", [], True),
        ("", "55 EUR", [], False),
    ],
)
def test_contains_answer_matches_whole_tokens_only(answer, gold, aliases, expected):
    assert contains_answer(answer, gold, aliases) is expected


def test_the_unbounded_scorer_finds_numbers_inside_numbers():
    """The bias the bounded check removes: a substring test "finds" 20 in 2024 and 3 in INC-2025-030."""
    assert unbounded_contains("The price rose in 2024.", "20")
    assert unbounded_contains("Logged as INC-2025-030.", "3")
    assert not contains_answer("The price rose in 2024.", "20")


def test_answer_tokens():
    assert answer_tokens("It costs €1,290 (the 2025 list).") == ["it", "costs", "eur", "1290", "2025", "list"]
    assert answer_tokens("Hub firmware 4.1.1.") == ["hub", "firmware", "4.1.1"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("I don't know.", True), ("I do not know the answer", True), ("The context does not contain it.", True),
     ("This is not mentioned in the documents.", True), ("", True), ("   ", True), ("It is 55 EUR [1].", False)],
)
def test_is_abstention(answer, expected):
    assert is_abstention(answer) is expected


# --- citations ----------------------------------------------------------------------------------------
DOCS = [
    Document(page_content="x", metadata={"source": "a"}),
    Document(page_content="y", metadata={"source": "support/faq.md", "section": "Plans"}),
    Document(page_content="z", metadata={"source": "leave.md", "section": "Annual leave"}),
]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("It is a plan for a team.", set()),  # source "a" is not cited by the word "a"
        ("See [1].", {"a"}),
        ("See [1, 3].", {"a", "leave.md"}),
        ("See [9] and [0].", set()),  # out of range
        ("According to support/faq.md, yes.", {"support/faq.md"}),
        ("As faq.md says.", {"support/faq.md"}),
        ("As old_faq.md says.", set()),  # not a whole file name
        ("The faq.mdx file", set()),
        ("It is in leave.md.", {"leave.md"}),
        ("leave.md", {"leave.md"}),
    ],
)
def test_cited_sources_match_whole_file_names_and_numbered_citations(answer, expected):
    assert cited_sources(answer, DOCS) == expected
