"""The routing policy: every layer in order, and the :class:`Decision` with the reasons of each.

A request goes to the external endpoint only when **every** layer passes and it asks for fresh or
web information; anything any layer flags stays internal, and so does everything else (the safe
default). The layers, each of which says why it fired:

1. decoding (:mod:`.decoding`): the rules below run on every decoded view of the request;
2. personal data (:mod:`.personal_data`), checksums validated;
3. secrets (:mod:`.credentials`) and confidentiality markers (:mod:`.vocabulary`), English and Korean;
4. the sensitive vocabulary of the knowledge base (project names, titles, mined names and ids);
5. a semantic check (:mod:`.semantic`): nearest knowledge-base chunks that are not public.

``classify`` makes no network call; the semantic layer loads MiniLM on first use and keeps it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_lab.routing.credentials import find_secrets
from genai_lab.routing.decoding import LEET, normalize, squash, views
from genai_lab.routing.personal_data import find_personal_data, redact_personal_data
from genai_lab.routing.semantic import SemanticCheck
from genai_lab.routing.vocabulary import (
    DEFAULT_FRESH_PATTERNS,
    DEFAULT_MARKERS,
    MARKER_PATTERNS,
    Corpus,
    Term,
    mine_vocabulary,
    term_length,
    title_words,
    word_positions,
    words_in_any_order,
)

INTERNAL = "internal"
EXTERNAL = "external"
KB_MANIFEST_ENV = "GENAI_LAB_KB_MANIFEST"  # overrides data/kb/manifest.json
CLASSIFICATIONS = ("public", "internal", "confidential")


class KnowledgeBaseMissing(FileNotFoundError):
    """The knowledge-base manifest the policy reads its names from is missing."""


@dataclass(frozen=True)
class Decision:
    """The router's verdict on one request, with the reasons that produced it.

    ``layers`` names the layers that fired (``"personal data"``, ``"secret"``, ``"marker"``,
    ``"vocabulary"``, ``"semantic"``); ``reasons`` says what each found."""

    route: str  # "internal" or "external"
    confidential: bool
    reasons: tuple[str, ...]
    needs_fresh_info: bool = False
    layers: tuple[str, ...] = ()

    def explain(self) -> str:
        why = "; ".join(self.reasons) if self.reasons else "no rule matched"
        kind = "confidential" if self.confidential else "not confidential"
        return f"{self.route} ({kind}): {why}"


def _manifest_path(manifest: str | Path | None) -> Path:
    if manifest is None:
        from genai_lab.paths import data_dir

        manifest = os.environ.get(KB_MANIFEST_ENV) or data_dir() / "kb" / "manifest.json"
    path = Path(manifest)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise KnowledgeBaseMissing(
            f"Knowledge-base manifest not found: {path}. It is written with the company knowledge "
            "base (data/kb/, Part 3); pass the path of a manifest.json, or build the policy by "
            "hand with RouterPolicy(project_names=[...], document_labels=[...])."
        )
    return path


def _kb_texts(folder: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(text, classification) of every document unit under ``folder`` (none when it holds only a
    manifest), and (record key, classification) of every row of its tables and JSON files."""
    from genai_lab.rag.loaders import load_documents

    texts: list[tuple[str, str]] = []
    records: list[tuple[str, str]] = []
    for doc in load_documents(folder).documents:
        classification = str(doc.metadata.get("classification", "internal")).lower()
        texts.append((doc.page_content, classification))
        if doc.metadata.get("type") in ("csv", "json") and isinstance(doc.metadata.get("section"), str):
            records.append((doc.metadata["section"], classification))
    return texts, records


@dataclass
class RouterPolicy:
    """The explainable routing rules. Build it from the knowledge base with
    :meth:`from_knowledge_base`; every list can be extended by hand, and :meth:`add_document`
    extends the vocabulary (and the semantic index) at run time."""

    project_names: list[str] = field(default_factory=list)
    document_labels: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=lambda: list(DEFAULT_MARKERS))
    fresh_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_FRESH_PATTERNS))
    mined_terms: list[Term] = field(default_factory=list)
    personal_data: bool = True
    secrets: bool = True
    semantic: SemanticCheck | None = None
    default_route: str = INTERNAL
    min_term_length: int = 4

    def __post_init__(self) -> None:
        if self.default_route not in (INTERNAL, EXTERNAL):
            raise ValueError(f"default_route={self.default_route!r}; use 'internal' or 'external'.")
        terms = [*self.project_names, *self.document_labels, *self.markers]
        short = [t for t in terms if term_length(t) < self.min_term_length]
        if short:
            raise ValueError(
                f"Terms {short} are shorter than {self.min_term_length} letters once spaces are "
                "removed; they would match inside ordinary words. Use a longer form (e.g. 'Project X')."
            )
        self._fresh = [re.compile(p) for p in self.fresh_patterns]
        self._marker_patterns = [re.compile(p) for p in MARKER_PATTERNS]
        self._corpus = Corpus()
        self._lock = threading.Lock()
        self._rebuild_terms()

    def _rebuild_terms(self) -> None:
        terms = [
            Term(kind, term, squash(term))
            for kind, group in (
                ("internal project", self.project_names),
                ("internal document", self.document_labels),
                ("confidential marker", self.markers),
            )
            for term in group
        ]
        self._terms = [*terms, *self.mined_terms]
        named = [*self.document_labels, *self.project_names, *(t.term for t in self.mined_terms)]
        self._titles = [(t, title_words(t)) for t in dict.fromkeys(named) if len(title_words(t)) >= 2]

    @classmethod
    def from_knowledge_base(
        cls, manifest: str | Path | None = None, semantic: bool = True, mine: bool = True, **kwargs: Any
    ) -> RouterPolicy:
        """Read internal project names and the titles of internal and confidential documents from
        the knowledge base's ``manifest.json`` (default ``data/kb/manifest.json``), mine the sensitive
        vocabulary of its documents (``mine``), and index them for the semantic check (``semantic``;
        MiniLM is loaded on the first request, not here). A manifest without documents beside it
        gives a policy without mined terms and without the semantic layer."""
        path = _manifest_path(manifest)
        data = json.loads(path.read_text(encoding="utf-8"))
        projects: list[str] = []
        for name in data.get("internal_projects", []):
            projects.append(str(name))
            # "Project Kestrel" is also talked about as plain "Kestrel".
            bare = re.sub(r"^(?:project|projekt|program|programme)\s+", "", str(name), flags=re.I)
            if bare != name:
                projects.append(bare)
        labels: list[str] = []
        for doc in data.get("documents", []):
            if str(doc.get("classification", "internal")).lower() == "public":
                continue
            for key in ("title", "label", "id"):
                if isinstance(doc.get(key), str) and doc[key].strip():
                    labels.append(doc[key].strip())
            labels.extend(str(label) for label in doc.get("labels", []) or [])
        labels = [t for t in dict.fromkeys(labels) if term_length(t) >= kwargs.get("min_term_length", 4)]
        texts, records = _kb_texts(path.parent) if (mine or semantic) else ([], [])
        policy = cls(project_names=list(dict.fromkeys(projects)), document_labels=labels, **kwargs)
        if mine and texts:
            policy._corpus, mined = mine_vocabulary(texts, records=records)
            known = {t.key for t in policy._terms}
            policy.mined_terms = [t for t in mined if t.key not in known]
            policy._rebuild_terms()
        if semantic and texts:
            policy.semantic = SemanticCheck.from_texts(texts)
        return policy

    def add_document(self, text: str, classification: str, title: str | None = None) -> list[str]:
        """Teach the policy a new knowledge-base document at once (the app calls this when a document
        is uploaded). A non-public document adds its title and its mined names and ids to the
        vocabulary; every document joins the semantic index. Returns the terms added."""
        classification = str(classification).lower()
        if classification not in CLASSIFICATIONS:
            raise ValueError(f"classification={classification!r}; use one of {CLASSIFICATIONS}.")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("add_document needs the document's text (a non-empty string).")
        added: list[str] = []
        with self._lock:
            self._corpus.note_words(text)
            if classification == "public":
                self._corpus.add_public(text)
            else:
                if title and term_length(title) >= self.min_term_length and title not in self.document_labels:
                    self.document_labels.append(title)
                    added.append(title)
                known = {t.key for t in self._terms}
                new = [t for t in self._corpus.candidates(text) if t.key not in known]
                self.mined_terms.extend(new)
                added.extend(t.term for t in new)
                self._rebuild_terms()
            if self.semantic is not None:
                self.semantic.add(text, classification)
        return added

    # -- the layers ----------------------------------------------------------------------------
    def _layer_personal_data(self, texts: list[str]) -> list[str]:
        kinds = dict.fromkeys(kind for view in texts for kind, _ in find_personal_data(view, normalised=True))
        return [f"personal data: {kind}" for kind in kinds]

    def _layer_secrets(self, texts: list[str]) -> list[str]:
        kinds = dict.fromkeys(kind for view in texts for kind in find_secrets(view))
        return [f"secret: {kind}" for kind in kinds]

    def _layer_terms(self, normalised: list[str]) -> tuple[list[str], list[str]]:
        squashed = "\n".join(_squash_norm(v) for v in normalised)
        leet = "\n".join(_squash_norm(v.translate(LEET)) for v in normalised)
        markers: list[str] = []
        vocab: list[str] = []
        for term in self._terms:
            if term.key and (term.key in squashed or term.key.translate(LEET) in leet):
                (markers if term.kind == "confidential marker" else vocab).append(f"{term.kind}: {term.term}")
        for pattern in self._marker_patterns:
            if any(pattern.search(v) for v in normalised):
                markers.append(f"confidential marker: /{pattern.pattern}/")
                break
        if self._titles:
            positions = [word_positions(v) for v in normalised]
            for title, words in self._titles:
                if any(title in r for r in vocab):
                    continue
                if any(words_in_any_order(p, words) for p in positions):
                    vocab.append(f"internal name or title, words in another order: {title}")
        return markers, vocab

    def classify(self, text: str) -> Decision:
        """Apply every layer to ``text`` and return the :class:`Decision` with its reasons.

        The rule layers (personal data, secrets, markers, vocabulary) run on every decoded view and
        always all of them, so that the audit log names every reason. The semantic layer, the only
        one that embeds the text, runs only when no rule fired (its verdict would change nothing)."""
        if not isinstance(text, str):
            raise TypeError(f"The router classifies text, not {type(text).__name__}; pass a string.")
        raw = views(text)
        normalised = [normalize(v) for v in raw]
        fired: dict[str, list[str]] = {}
        if self.personal_data:
            fired["personal data"] = self._layer_personal_data(normalised)
        if self.secrets:
            fired["secret"] = self._layer_secrets(raw)
        fired["marker"], fired["vocabulary"] = self._layer_terms(normalised)
        if self.semantic is not None and not any(fired.values()) and text.strip():
            fired["semantic"] = self.semantic.reasons(text)
        reasons = [r for found in fired.values() for r in found]
        layers = tuple(name for name, found in fired.items() if found)
        confidential = bool(reasons)
        # Fresh-information words count only as written: decoding never makes a request *less* private.
        fresh = [p.pattern for p in self._fresh if p.search(normalised[0])]
        if confidential:
            route = INTERNAL
        elif fresh:
            route = EXTERNAL
            reasons.append(f"needs fresh/web information: {fresh[0]}")
        else:
            route = self.default_route
            reasons.append(f"default route: {route}" if text.strip() else f"empty input: {route}")
        return Decision(route, confidential, tuple(reasons), needs_fresh_info=bool(fresh), layers=layers)

    def redact(self, text: str) -> str:
        """``text`` with each personal-data match replaced by ``[KIND]`` (on the normalised text)."""
        return redact_personal_data(text)


_ASCII_NOT_WORD = str.maketrans("", "", "".join(chr(i) for i in range(128) if not chr(i).isalnum()))


def _squash_norm(normalised: str) -> str:
    if normalised.isascii():
        return normalised.translate(_ASCII_NOT_WORD)
    return re.sub(r"[\W_]+", "", normalised)
