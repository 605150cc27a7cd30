"""The router against requests its rules were not written against: generated adversarial variants
(development and held-out), the course's adversarial suite, and public questions (false alarms).

All without the embedding model: the rule layers alone must meet the bars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_lab.routing import RouterPolicy, adversarial_suite
from genai_lab.routing.mutations import OPERATORS, apply
from genai_lab.routing.variants import (
    OPERATOR_SPLIT,
    evaluate,
    false_alarms,
    generate_variants,
    kb_seeds,
    public_questions,
    split_seeds,
)

KB = Path(__file__).parents[2] / "data" / "kb" / "manifest.json"


@pytest.fixture(scope="module")
def policy() -> RouterPolicy:
    return RouterPolicy.from_knowledge_base(KB, semantic=False)


def test_splits_share_no_seed_and_no_operator(policy: RouterPolicy) -> None:
    seeds = kb_seeds(policy)
    dev, held = split_seeds(seeds, "dev"), split_seeds(seeds, "heldout")
    assert not set(dev) & set(held) and set(dev) | set(held) == set(seeds)
    assert not set(OPERATOR_SPLIT["dev"]) & set(OPERATOR_SPLIT["heldout"])
    assert {v.seed for v in generate_variants(policy, "heldout", 300) if v.kind == "kb"} <= set(held)


def test_generated_variants_differ_from_their_seed(policy: RouterPolicy) -> None:
    variants = generate_variants(policy, "heldout", 200)
    changed = [v for v in variants if v.seed not in v.text]
    assert len(changed) > 0.3 * len(variants), "most variants should hide the seed's plain spelling"
    with pytest.raises(ValueError, match="split"):
        generate_variants(policy, "test", 10)


def test_development_variants_never_leak(policy: RouterPolicy) -> None:
    result = evaluate(policy, generate_variants(policy, "dev", 400))
    assert result.leak_count == 0, [(v.operators, v.text[:80]) for v in result.leaks[:5]]


def test_held_out_variants_never_leak(policy: RouterPolicy) -> None:
    variants = generate_variants(policy, "heldout", 600)
    assert len(variants) >= 500
    result = evaluate(policy, variants)
    assert result.leak_count == 0, [(v.operators, v.text[:80]) for v in result.leaks[:5]]


def test_a_policy_without_decoding_leaks_on_held_out_variants(policy: RouterPolicy, monkeypatch) -> None:
    # The bar can fail: without decoded views, encoded seeds get through.
    import genai_lab.routing.policy as policy_module

    monkeypatch.setattr(policy_module, "views", lambda text: [text])
    assert evaluate(policy, generate_variants(policy, "heldout", 300)).leak_count > 0


def test_public_questions_rarely_raise_false_alarms(policy: RouterPolicy) -> None:
    questions = public_questions()
    assert len(questions) >= 100
    assert {q["lang"] for q in questions} == {"en", "ko"}
    assert {q["about"] for q in questions} == {"public document", "general"}
    flagged, rate = false_alarms(policy, questions)
    assert rate <= 0.05, flagged


def test_the_course_suite_never_leaks(policy: RouterPolicy) -> None:
    cases = adversarial_suite(policy)
    assert len(cases) >= 60
    leaks = [name for name, text in cases if not policy.classify(text).confidential]
    assert leaks == []


def test_suite_placeholders_are_checked(tmp_path: Path, policy: RouterPolicy) -> None:
    bad = tmp_path / "suite.jsonl"
    bad.write_text(json.dumps({"name": "x", "template": "{{nope}} latest"}) + "\n")
    with pytest.raises(ValueError, match="placeholder"):
        adversarial_suite(policy, bad)


def test_operators_keep_what_a_reader_sees() -> None:
    assert apply("fullwidth", "Kestrel") == "Ｋｅｓｔｒｅｌ"
    assert apply("reverse_words", "Salary Bands 2025") == "2025 Bands Salary"
    assert len(OPERATORS) >= 25
    with pytest.raises(ValueError, match="Unknown mutation operator"):
        apply("rot13", "x")


def test_variants_of_custom_seeds_use_the_split_operators() -> None:
    from genai_lab.routing.variants import translate_ko, variants_of

    variants = variants_of(["EMP-204817"], "heldout", n=50)
    assert len(variants) == 50 and all(set(v.operators) <= set(OPERATOR_SPLIT["heldout"]) for v in variants)
    with pytest.raises(ValueError, match="non-empty"):
        variants_of([], "dev")
    assert translate_ko("What is the latest news about {x}?", None) == "무엇인가요 최신 뉴스 관련 {x}?"  # type: ignore[arg-type]
