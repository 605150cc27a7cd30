"""Each layer of the router on its own: decoding, personal data, secrets, markers (English and Korean),
the mined vocabulary, run-time documents, the semantic check (with a stand-in encoder), and the
worst-case time of classify on pathological inputs."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_lab.routing import INTERNAL, RouterPolicy, normalize, squash, views
from genai_lab.routing.credentials import find_secrets
from genai_lab.routing.evaluation import pathological_inputs, worst_classify_seconds
from genai_lab.routing.personal_data import find_personal_data, redact_personal_data
from genai_lab.routing.semantic import SemanticCheck, calibrate, roc
from genai_lab.routing.vocabulary import mine_vocabulary

KB = Path(__file__).parents[2] / "data" / "kb" / "manifest.json"


@pytest.fixture(scope="module")
def kb_policy() -> RouterPolicy:
    return RouterPolicy.from_knowledge_base(KB, semantic=False)


# -- layer 1: decoding -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoded",
    [
        "%63%6F%6E%66%69%64%65%6E%74%69%61%6C",  # URL encoding
        "&#99;&#111;&#110;&#102;idential",  # HTML entities
        base64.b64encode(b"confidential").decode(),
        b"confidential".hex(),
        "\\x63onfidential",
        '{"a": "\\u0063onfidential"}',
    ],
)
def test_every_encoding_is_decoded_into_a_view(encoded: str) -> None:
    assert any("confidential" in normalize(v) for v in views(f"read this: {encoded} please")), views(encoded)


def test_ordinary_words_are_not_mistaken_for_base64() -> None:
    assert views("Summarise everything interesting about sourdough baking") == [
        "Summarise everything interesting about sourdough baking"
    ]


def test_hangul_survives_normalisation_and_jamo_recompose() -> None:
    assert squash("사내 한정") == "사내한정"
    assert normalize("ㄷㅐㅇㅚㅂㅣ") == "대외비"
    assert squash("Pro-ject\nAurora!") == "projectaurora"
    assert normalize("Senτrα Oκαfοr") == "sentra okafor"  # Greek look-alikes via Unicode's confusables


# -- layer 2: personal data --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,kind",
    [
        ("전화 010-1234-5678 로 주세요", "phone"),
        ("주민등록번호 971013-9019902", "kr_rrn"),
        ("사업자 134-86-72683", "kr_brn"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
        ("server fe80::1ff:fe23:4567:890a is down", "ipv6"),
        ("passport no. M12345678", "passport"),
        ("card 4111-1111-1111-1111", "credit_card"),
    ],
)
def test_personal_data_kinds(text: str, kind: str) -> None:
    assert kind in {k for k, _ in find_personal_data(text)}


@pytest.mark.parametrize(
    "text",
    ["주민등록번호 971013-9019903", "IBAN GB82 WEST 1234 5698 7654 33", "card 4111 1111 1111 1112", "at 12:30:45"],
)
def test_checksums_reject_near_misses(text: str) -> None:
    assert find_personal_data(text) == [], "a wrong check digit must not count as personal data"


def test_redaction_replaces_each_kind() -> None:
    out = redact_personal_data("mail jane@example.com, call 010-1234-5678")
    assert "[EMAIL]" in out and "[PHONE]" in out and "1234" not in out


# -- layer 3: secrets and markers --------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,kind",
    [
        ("key AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "GitHub Token"),
        ("-----BEGIN RSA PRIVATE KEY-----", "Private Key"),
        ("the db password: hunter2xyz", "password or key assignment"),
        ("token zXh9Lk2Qw8PbT4rY1sV6nM3jH0gF5dC7", "high-entropy string"),
    ],
)
def test_secrets(text: str, kind: str) -> None:
    assert kind in find_secrets(text)
    assert RouterPolicy().classify(text + " latest news").route == INTERNAL


@pytest.mark.parametrize(
    "text",
    [
        "대외비: 최신 뉴스", "사 내 한 정 오늘 뉴스", "비공개 자료, 검색해줘", "내부용입니다 latest", "기 밀 뉴스",
        "This is under NDA, latest news", "[RESTRICTED] latest news", "for your eyes only: today",
        "Private & Conf. latest news",
    ],
)
def test_markers_english_and_korean(text: str) -> None:
    decision = RouterPolicy().classify(text)
    assert decision.confidential and "marker" in decision.layers, decision.explain()


@pytest.mark.parametrize("text", ["오늘 서울 날씨 어때?", "최신 뉴스 알려줘", "What is the latest news?"])
def test_fresh_words_english_and_korean(text: str) -> None:
    decision = RouterPolicy().classify(text)
    assert decision.route == "external" and decision.needs_fresh_info, decision.explain()


def test_restricted_as_an_ordinary_word_is_not_a_marker() -> None:
    assert not RouterPolicy().classify("What is a restricted Boltzmann machine? latest news").confidential


# -- layer 4: vocabulary -----------------------------------------------------------------------------
def test_vocabulary_is_mined_from_non_public_documents(kb_policy: RouterPolicy) -> None:
    mined = {t.term for t in kb_policy.mined_terms}
    assert {"Kowalczyk", "INC-2025-019", "Hub H3", "Nordlys Sensing"} <= mined
    assert not mined & {"Atrium", "Brightwater", "Gateway", "MacBook"}, "public or world-known names were mined"


def test_miner_skips_terms_that_occur_in_public_documents() -> None:
    docs = [("Meet Zorbax Quill from the Vantablue team.", "internal"), ("Vantablue is our public brand.", "public")]
    _, terms = mine_vocabulary(docs)
    names = {t.term for t in terms}
    assert "Zorbax Quill" in names and "Vantablue" not in names


def test_titles_match_in_any_word_order(kb_policy: RouterPolicy) -> None:
    decision = kb_policy.classify("the bands for salary 2025, latest news")
    assert decision.confidential, decision.explain()
    scattered = "salary negotiation tips: " + "read the news about music and art and more " * 3 + "bands in 2025"
    assert not kb_policy.classify(scattered).confidential, "words far apart are not a title"


def test_add_document_extends_the_vocabulary_at_once(kb_policy: RouterPolicy) -> None:
    policy = RouterPolicy.from_knowledge_base(KB, semantic=False)
    question = "What is the latest news on Quillfeather and Tamsin Varga?"
    assert not policy.classify(question).confidential
    added = policy.add_document(
        "Project plan. The Quillfeather prototype is owned by Tamsin Varga.", "confidential", title="Quillfeather Plan"
    )
    assert "Quillfeather Plan" in added and "Tamsin Varga" in added
    decision = policy.classify(question)
    assert decision.confidential and "vocabulary" in decision.layers, decision.explain()
    assert policy.add_document("Our public blog mentions Brightwater.", "public") == []
    with pytest.raises(ValueError, match="classification"):
        policy.add_document("text", "secret-ish")


# -- layer 5: semantic -------------------------------------------------------------------------------
def _bag_encoder(texts: list[str]) -> np.ndarray:
    """A stand-in for MiniLM: bag of hashed words."""
    out = np.zeros((len(texts), 64), np.float32)
    for i, text in enumerate(texts):
        for word in normalize(text).split():
            out[i, sum(map(ord, word)) % 64] += 1
    return out + 1e-3


def test_semantic_check_flags_requests_near_non_public_chunks() -> None:
    check = SemanticCheck(
        [("salary band pay grade engineer compensation", "confidential"), ("thermostat manual wiring", "public")],
        threshold=0.5,
        encoder=_bag_encoder,
    )
    policy = RouterPolicy(semantic=check)
    decision = policy.classify("how much compensation does an engineer pay grade get? latest news")
    assert decision.confidential and decision.layers == ("semantic",), decision.explain()
    assert not policy.classify("thermostat wiring manual, latest news").confidential  # nearest chunk is public


def test_roc_and_calibration_on_a_labelled_set() -> None:
    chunks = [("salary band pay grade", "confidential"), ("thermostat manual", "public")]
    check = SemanticCheck(chunks, encoder=_bag_encoder)
    labelled = [("salary band", 1), ("pay grade salary", 1), ("thermostat manual", 0), ("weather today", 0)]
    result = calibrate(check, labelled, max_false_alarm_rate=0.0)
    assert result.auc == pytest.approx(1.0)
    assert all(check.score(t) >= result.threshold for t, y in labelled if y == 1)
    assert all(check.score(t) < result.threshold for t, y in labelled if y == 0)
    with pytest.raises(ValueError, match="both"):
        roc([0.1, 0.2], [1, 1])


# -- linear time -------------------------------------------------------------------------------------
PATHOLOGICAL = pathological_inputs()


def test_phone_pattern_is_linear_on_the_reported_input() -> None:
    text = "(0" + "1" * 3997 + "x"
    start = time.perf_counter()
    find_personal_data(text)
    assert time.perf_counter() - start < 0.05


def test_pathological_inputs_are_the_reported_kinds() -> None:
    assert len(PATHOLOGICAL) >= 30 and all(len(text) <= 4000 for text in PATHOLOGICAL)
    assert "(0" + "1" * 3997 + "x" in PATHOLOGICAL


def test_worst_case_classify_time_on_pathological_inputs(kb_policy: RouterPolicy) -> None:
    worst, slowest = worst_classify_seconds(kb_policy, PATHOLOGICAL)
    assert worst < 0.05, f"classify took {worst * 1000:.0f} ms on {slowest[:12]!r}..."


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_classify_never_crashes_and_always_decides(text: str) -> None:
    decision = RouterPolicy(project_names=["Project Kestrel"]).classify(text)
    assert decision.route in ("internal", "external")
    assert decision.route == "internal" or not decision.confidential
    assert decision.reasons, "every decision says why"


def test_non_text_input_names_the_fix() -> None:
    with pytest.raises(TypeError, match="pass a string"):
        RouterPolicy().classify(b"bytes")  # type: ignore[arg-type]
