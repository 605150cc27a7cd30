"""The router's policy, offline and fast: the adversarial suite, redaction, the audit log, fail-closed.

The real-server tests of the router live in test_serving_server.py (one shared vLLM server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_lab.serving.router import (
    EXTERNAL,
    INTERNAL,
    ConfidentialRouteError,
    Endpoint,
    KnowledgeBaseMissing,
    Router,
    RouterConfig,
    RouterPolicy,
    adversarial_suite,
    find_personal_data,
    lcel_router,
    normalize,
    squash,
)

MANIFEST = Path(__file__).parents[1] / "fixtures" / "kb" / "manifest.json"
LONG = "Please summarise the general history of bread baking. " * 4000  # ~200k characters

# Each case must be classified confidential: it must never reach the external endpoint, even though
# many also ask for fresh information (which alone would send them outside).
CONFIDENTIAL_CASES: list[tuple[str, str]] = [
    # explicit markers
    ("marker plain", "CONFIDENTIAL: what is the latest news on our merger?"),
    ("marker mixed case", "cOnFiDeNtIaL - search the web for competitors"),
    ("marker split across lines", "This is confi\ndential, what is the weather today?"),
    ("marker split with hyphens", "c-o-n-f-i-d-e-n-t-i-a-l: latest stock price of ACME"),
    ("marker spaced letters", "c o n f i d e n t i a l   latest news"),
    ("marker zero-width", "con\u200bfiden\u200dtial: what happened today?"),
    ("marker soft hyphen", "confi\u00addential memo, latest news please"),
    ("marker cyrillic look-alikes", "соnfidеntiаl: search the web"),  # с, о, е, а are Cyrillic
    ("marker greek look-alikes", "cοnfidentiαl: latest news"),  # ο, α are Greek
    ("marker fullwidth", "ｃｏｎｆｉｄｅｎｔｉａｌ: what is new today"),
    ("marker accents", "cönfïdéntíål notes, latest updates"),
    ("marker leet", "c0nf1d3nt1al: latest news"),
    ("marker in json", '{"note": "confidential", "ask": "latest news"}'),
    ("marker json escaped", '{"note": "\\u0063onfidential", "ask": "latest news"}'),
    ("internal only", "Internal only: what is the current exchange rate?"),
    ("internal only split", "INTERNAL\n  ONLY -- current exchange rate"),
    ("do not share", "Do not share this: who won the match yesterday?"),
    ("german marker", "Vertraulich: aktuelle news bitte, latest"),
    ("marker at end of long input", LONG + " confidential"),
    ("marker in the middle of long input", LONG[:100_000] + " CONFIDENTIAL " + LONG[:100_000] + " latest news"),
    ("markdown marker", "**[CONFIDENTIAL]** latest news on the market"),
    ("marker bidi override", "conf\u202eidential: latest news"),
    # internal project names and document titles from the knowledge base
    ("project name", "What is the latest on Project Nightjar?"),
    ("project lower case", "latest news about project nightjar"),
    ("project bare name", "Search the web for Nightjar competitors today"),
    ("project split across lines", "What is new with Project\nLarkspur today?"),
    ("project upper case spaced", "L A R K S P U R: latest news"),
    ("project cyrillic", "Lаrkspur status today"),  # а is Cyrillic
    ("project underscores", "night_jar release date, latest news"),
    ("project in json", '{"project": "Nightjar", "q": "latest news"}'),
    ("document title", "Summarise the Travel Expense Policy, latest version online"),
    ("confidential document title", "merger term sheet orion: latest news"),
    ("document title split", "Salary\nBands 2025 compared to the current market"),
    ("document title fullwidth", "Ｓａｌａｒｙ Ｂａｎｄｓ ２０２５ today"),
    # personal data
    ("email", "Email jane.doe@example.com the latest news"),
    ("email upper case", "JANE.DOE@EXAMPLE.COM today"),
    ("email obfuscated", "write to jane.doe (at) example (dot) com the latest news"),
    ("email fullwidth at", "jane.doe＠example.com latest news"),
    ("email in json", '{"user": {"email": "max.mustermann@firma.de"}, "q": "latest news"}'),
    ("email json escaped", '{"email": "max\\u0040firma.de", "q": "current news"}'),
    ("email zero-width", "jane.doe@exa\u200bmple.com latest news"),
    ("phone international", "Call +49 30 1234 5678 about the latest news"),
    ("phone us", "call +1 (415) 555-0132 today"),
    ("phone in json", '[{"tel": "+44 20 7946 0958"}, "latest news"]'),
    ("iban", "Transfer to DE89 3704 0044 0532 0130 00 today"),
    ("iban compact", "iban de89370400440532013000 current rate"),
    ("credit card", "My card is 4111 1111 1111 1111, latest offers?"),
    ("credit card dashes", "card 5500-0000-0000-0004 latest news"),
    ("ssn", "SSN 123-45-6789, what is the current tax rate?"),
    ("ip address", "Our server 10.20.30.40 is down, search the web"),
    ("date of birth", "born on 12.03.1985, what's the weather today"),
    ("pii fullwidth digits", "card ４１１１ １１１１ １１１１ １１１１ latest"),
    ("pii and marker across lines", "conf\nidential\njane@example.com\nlatest"),
]

# Not confidential, asking for fresh information: these may go outside.
EXTERNAL_CASES = [
    "What is the latest news about the Python release?",
    "Search the web for today's weather in Paris",
    "What is the current EUR/USD exchange rate?",
    "Who won the football match yesterday?",
]
# Neither: they stay internal by default.
INTERNAL_DEFAULT_CASES = ["Explain what a KV cache is.", "Write a haiku about autumn.", "", "   \n\t "]


@pytest.fixture(scope="module")
def policy() -> RouterPolicy:
    return RouterPolicy.from_knowledge_base(MANIFEST, semantic=False)


class Recorder:
    """A transport that records what each endpoint received (the 'network')."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail or set()

    def __call__(self, endpoint: Endpoint, messages: list[dict[str, str]], options: dict) -> str:
        if endpoint.name in self.fail:
            raise ConnectionError(f"{endpoint.name} endpoint refused the connection")
        self.calls.append((endpoint.name, messages[-1]["content"]))
        return f"answer from {endpoint.name}"


CONFIG = RouterConfig.from_mapping(
    {
        "internal": {"base_url": "http://127.0.0.1:1/v1", "model": "internal-model"},
        "external": {"base_url": "http://127.0.0.1:2/v1", "model": "external-model"},
    }
)


def test_packaged_adversarial_suite_never_leaks(policy: RouterPolicy, tmp_path: Path) -> None:
    cases = adversarial_suite(policy)
    assert len(cases) >= 50
    transport = Recorder()
    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=transport)
    for name, text in cases:
        decision = router.complete(text).decision
        assert decision.confidential and decision.route == INTERNAL, f"{name}: {decision.explain()}"
    assert {endpoint for endpoint, _ in transport.calls} == {INTERNAL}
    # The same suite, built from another knowledge base's names, is caught too.
    other = RouterPolicy(project_names=["Kestrel"], document_labels=["Board Minutes March"])
    leaks = [n for n, t in adversarial_suite(other) if not other.classify(t).confidential]
    assert leaks == []


def test_manifest_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_LAB_KB_MANIFEST", str(MANIFEST))
    assert "Project Larkspur" in RouterPolicy.from_knowledge_base(semantic=False).project_names


def test_manifest_is_read(policy: RouterPolicy) -> None:
    assert "Project Nightjar" in policy.project_names and "Nightjar" in policy.project_names
    assert "Salary Bands 2025" in policy.document_labels
    assert "Travel Expense Policy" in policy.document_labels
    assert "Press Release Spring Launch" not in policy.document_labels  # public


def test_missing_manifest_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseMissing, match="manifest.json"):
        RouterPolicy.from_knowledge_base(tmp_path / "nope" / "manifest.json", semantic=False)


@pytest.mark.parametrize("name,text", CONFIDENTIAL_CASES, ids=[c[0] for c in CONFIDENTIAL_CASES])
def test_confidential_never_reaches_external(policy: RouterPolicy, tmp_path: Path, name: str, text: str) -> None:
    decision = policy.classify(text)
    assert decision.confidential, f"{name!r} was not marked confidential: {decision.explain()}"
    assert decision.route == INTERNAL
    transport = Recorder()
    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=transport)
    response = router.complete(text)
    assert response.endpoint == INTERNAL
    assert [endpoint for endpoint, _ in transport.calls] == [INTERNAL]


@pytest.mark.parametrize("text", EXTERNAL_CASES)
def test_fresh_questions_go_external(policy: RouterPolicy, text: str) -> None:
    decision = policy.classify(text)
    assert not decision.confidential and decision.route == EXTERNAL, decision.explain()
    assert decision.needs_fresh_info


@pytest.mark.parametrize("text", INTERNAL_DEFAULT_CASES)
def test_everything_else_stays_internal(policy: RouterPolicy, text: str) -> None:
    decision = policy.classify(text)
    assert decision.route == INTERNAL and not decision.confidential, decision.explain()


@pytest.mark.parametrize("name,text", CONFIDENTIAL_CASES[:10], ids=[c[0] for c in CONFIDENTIAL_CASES[:10]])
def test_internal_down_fails_closed(policy: RouterPolicy, tmp_path: Path, name: str, text: str) -> None:
    transport = Recorder(fail={INTERNAL})
    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=transport)
    with pytest.raises(ConfidentialRouteError, match="NOT sent to the external endpoint"):
        router.complete(text)
    assert transport.calls == []  # nothing went anywhere, in particular not outside
    (entry,) = router.audit.entries()
    assert entry["outcome"] == "error" and entry["route"] == INTERNAL


def test_external_failure_is_not_rerouted_either(policy: RouterPolicy, tmp_path: Path) -> None:
    transport = Recorder(fail={EXTERNAL})
    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=transport)
    with pytest.raises(ConnectionError):
        router.complete(EXTERNAL_CASES[0])
    assert transport.calls == []


def test_audit_log_is_append_only_and_holds_no_text(policy: RouterPolicy, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"earlier": "entry"}\n')
    router = Router(policy, CONFIG, path, transport=Recorder())
    router.complete("Project Nightjar budget")
    router.complete(EXTERNAL_CASES[1])
    lines = path.read_text().splitlines()
    assert lines[0] == '{"earlier": "entry"}' and len(lines) == 3
    entries = [json.loads(line) for line in lines[1:]]
    assert [e["route"] for e in entries] == [INTERNAL, EXTERNAL]
    assert entries[0]["reasons"][0].startswith("internal project")
    assert "Nightjar budget" not in path.read_text()  # the text itself is never logged
    assert len(entries[0]["sha256"]) == 64


def test_redaction_of_external_requests(tmp_path: Path) -> None:
    # A policy that does not treat personal data as confidential: redaction is the safeguard.
    policy = RouterPolicy(personal_data=False)
    transport = Recorder()
    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=transport)
    response = router.complete("latest news, reply to jane.doe@example.com or +49 30 1234 5678")
    assert response.endpoint == EXTERNAL and response.redacted
    sent = transport.calls[0][1]
    assert "jane.doe" not in sent and "1234" not in sent
    assert "[EMAIL]" in sent and "[PHONE]" in sent
    plain = "What is the LATEST News about Python?"
    assert router.complete(plain).redacted is False
    assert transport.calls[-1] == (EXTERNAL, plain)  # nothing to redact: sent exactly as written


def test_personal_data_patterns() -> None:
    kinds = {k for k, _ in find_personal_data("a@b.io, +49 30 1234567, 4111 1111 1111 1111")}
    assert kinds >= {"email", "phone", "credit_card"}
    assert find_personal_data("card 4111 1111 1111 1112") == []  # fails the Luhn check
    assert find_personal_data("The meeting is at 10:30 in room 204.") == []


def test_normalisation() -> None:
    assert normalize("ＣｏＮ\u200bｆ") == "conf"
    assert normalize("Ρrојеct") == "project"  # Greek Ρ, Cyrillic о, ј, е
    assert squash("Pro-ject\nAurora!") == "projectaurora"


def test_policy_rejects_terms_that_match_everywhere() -> None:
    with pytest.raises(ValueError, match="shorter than"):
        RouterPolicy(project_names=["X"])


def test_config_from_env_and_errors() -> None:
    env = {
        "GENAI_LAB_INTERNAL_URL": "http://127.0.0.1:8000/v1",
        "GENAI_LAB_INTERNAL_MODEL": "smollm2",
        "GENAI_LAB_EXTERNAL_URL": "https://api.example.com/v1",
        "GENAI_LAB_EXTERNAL_MODEL": "big-model",
        "GENAI_LAB_EXTERNAL_API_KEY_ENV": "EXAMPLE_API_KEY",
    }
    config = RouterConfig.from_env(env)
    assert config.external.base_url == "https://api.example.com/v1"
    assert config.external.api_key_env == "EXAMPLE_API_KEY"
    with pytest.raises(ValueError, match="GENAI_LAB_EXTERNAL_URL"):
        RouterConfig.from_env({k: v for k, v in env.items() if k != "GENAI_LAB_EXTERNAL_URL"})
    with pytest.raises(ValueError, match="base_url"):
        RouterConfig.from_mapping({"internal": {"url": "x"}})


def test_lcel_router_routes_and_fails_closed(policy: RouterPolicy, tmp_path: Path) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.runnables import RunnableLambda

    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=Recorder())
    internal = FakeListChatModel(responses=["internal answer"] * 5)
    external = FakeListChatModel(responses=["external answer"] * 5)
    chain = lcel_router(router, internal_llm=internal, external_llm=external)
    assert chain.invoke("Project Nightjar: latest news").content == "internal answer"
    assert chain.invoke(EXTERNAL_CASES[0]).content == "external answer"

    def down(_: object) -> str:
        raise ConnectionError("internal endpoint down")

    broken = lcel_router(router, internal_llm=RunnableLambda(down), external_llm=external)
    with pytest.raises(ConfidentialRouteError):
        broken.invoke("confidential: latest news")


def test_audit_entries_follow_the_package_audit_schema(policy: RouterPolicy, tmp_path: Path) -> None:
    from genai_lab.audit import AuditRecord

    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=Recorder())
    router.complete("Project Nightjar budget")
    router.complete("jane.doe@example.com: what is the weather today?")
    records = [AuditRecord.from_mapping(e) for e in router.audit.entries()]  # raises on a field outside the schema
    assert [r.component for r in records] == ["router", "router"]
    assert records[0].model == INTERNAL and records[1].reasons[0] == "personal data: email"


def test_per_endpoint_transport_is_the_seam_for_a_search_answer(policy: RouterPolicy, tmp_path: Path) -> None:
    searched: list[str] = []

    def search_answer(endpoint: Endpoint, messages: list[dict[str, str]], options: dict) -> str:
        searched.append(messages[-1]["content"])
        return "answer with web results"

    transport = Recorder()
    router = Router(policy, CONFIG, tmp_path / "audit.jsonl", transport=transport, transports={EXTERNAL: search_answer})
    assert router.complete(EXTERNAL_CASES[0]).text == "answer with web results"
    assert router.complete("Project Nightjar: latest news").text == "answer from internal"
    assert searched == [EXTERNAL_CASES[0]] and [e for e, _ in transport.calls] == [INTERNAL]
    with pytest.raises(ValueError, match="endpoints are"):
        Router(policy, CONFIG, tmp_path / "a.jsonl", transports={"web": search_answer})


def test_every_public_name_of_the_old_module_still_imports() -> None:
    import genai_lab.routing as routing
    import genai_lab.serving.router as old

    names = [
        "EXTERNAL", "INTERNAL", "KB_MANIFEST_ENV", "PII_PATTERNS", "DEFAULT_MARKERS", "DEFAULT_FRESH_PATTERNS",
        "AuditLog", "ConfidentialRouteError", "Decision", "Endpoint", "KnowledgeBaseMissing", "RoutedResponse",
        "Router", "RouterConfig", "RouterPolicy", "Transport", "adversarial_suite", "find_personal_data",
        "lcel_router", "normalize", "openai_transport", "squash",
    ]  # fmt: skip
    assert [n for n in names if getattr(old, n, None) is not getattr(routing, n, object())] == []
    assert not hasattr(old, "summarize_audit") and not hasattr(old, "decision_dict")  # dead code, removed
