"""Adding documents to the running service (``POST /api/documents``), with the checks a write needs.

- **A token.** Writes need ``Authorization: Bearer <token>`` with the token from the configuration
  (``$GENAI_LAB_APP_TOKEN`` or ``--token-file``). Without a configured token the endpoint is disabled
  (403, naming the setting); a missing or wrong token gets 401. Tokens are compared in constant time.
- **A closed set of classifications**: those of the knowledge base (``public``, ``internal``,
  ``confidential``); anything else is a 422 listing them.
- **A plain source name.** ``source`` is a file name (letters, digits, ``.``, ``_``, ``-``; at most 100
  characters; optionally written ``added/<name>``) and is stored as ``added/<name>``: it can never name
  or shadow a document of the knowledge base, nor one added before (409).
- **Quotas**: ``max_document_bytes`` per document and ``max_added_bytes`` for all added documents
  together (UTF-8 bytes of the text), 413 beyond.
- **The router learns it at once**: a non-public document's title, names and ids join the routing
  policy's sensitive vocabulary (:meth:`genai_lab.routing.RouterPolicy.add_document`), so the next
  question that names them stays internal.
"""

from __future__ import annotations

import hmac
import re
import threading
from typing import TYPE_CHECKING, Any

from genai_lab.app.config import CLASSIFICATIONS, TOKEN_ENV, AppConfig
from genai_lab.app.errors import ApiError
from genai_lab.app.schemas import DocumentRequest, clean_text

if TYPE_CHECKING:  # pragma: no cover
    from genai_lab.app.index import KnowledgeIndex
    from genai_lab.routing import RouterPolicy

ADDED_PREFIX = "added/"
MAX_TITLE_CHARS = 200
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def plain_source(source: str) -> str:
    """``"added/x.md"`` or ``"x.md"`` -> ``"added/x.md"``; :class:`ApiError` 422 for anything else."""
    name = source.removeprefix(ADDED_PREFIX)
    if not _PLAIN_NAME.fullmatch(name) or ".." in name:
        raise ApiError(
            422, "invalid_source",
            f"The source {source[:120]!r} is not a plain file name. Use letters, digits, '.', '_' and '-' "
            "(at most 100 characters, no folders), e.g. 'bicycle-garage.md'; it is stored as 'added/<name>'.",
        )  # fmt: skip
    return ADDED_PREFIX + name


class DocumentWriter:
    """The checks of ``POST /api/documents`` (module docstring) in front of :meth:`KnowledgeIndex.add_document`."""

    def __init__(self, index: KnowledgeIndex, config: AppConfig, policy: RouterPolicy | None = None) -> None:
        self.index, self.config, self.policy = index, config, policy
        self.added_bytes = 0
        self._lock = threading.Lock()

    def authorize(self, authorization: str | None) -> None:
        """Check the ``Authorization`` header against the configured token."""
        token = self.config.write_token
        if token is None:
            raise ApiError(
                403, "writes_disabled",
                f"Adding documents is disabled: no write token is configured. Start the service with "
                f"${TOKEN_ENV} set (or --token-file PATH) and send 'Authorization: Bearer <token>'.",
            )  # fmt: skip
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            message = "Adding documents needs 'Authorization: Bearer <token>' with the service's token."
            raise ApiError(401, "unauthorized", message)

    def _checked(self, body: DocumentRequest) -> tuple[str, str, str | None, str, int]:
        title, text = clean_text(body.title).strip(), clean_text(body.text).strip()
        if not title or not text:
            raise ApiError(422, "invalid_request", "A document needs a non-empty 'title' and 'text'.")
        if len(title) > MAX_TITLE_CHARS:
            message = f"The title has {len(title)} characters; keep it under {MAX_TITLE_CHARS}."
            raise ApiError(422, "invalid_request", message)
        if body.classification not in CLASSIFICATIONS:
            raise ApiError(
                422, "invalid_classification",
                f"Unknown classification {body.classification[:40]!r}; use one of: {', '.join(CLASSIFICATIONS)}.",
            )  # fmt: skip
        size = len(text.encode("utf-8"))
        if size > self.config.max_document_bytes:
            raise ApiError(
                413, "document_too_large",
                f"The document has {size:,} bytes; the limit is {self.config.max_document_bytes:,}. Split it.",
            )  # fmt: skip
        source = plain_source(clean_text(body.source).strip()) if body.source is not None else None
        return title, text, source, body.classification, size

    def _free_source(self, title: str) -> str:
        from genai_lab.app.index import slug

        taken, base = self.index.sources(), f"{ADDED_PREFIX}{slug(title)}"
        source, n = f"{base}.md", 2
        while source in taken:
            source, n = f"{base}-{n}.md", n + 1
        return source

    def add(self, body: DocumentRequest, authorization: str | None) -> dict[str, Any]:
        """Authorize, check and add one document (blocking: embeds and writes the index)."""
        self.authorize(authorization)
        title, text, source, classification, size = self._checked(body)
        with self._lock:  # one write at a time: the quota and the shadowing check see every earlier write
            if self.added_bytes + size > self.config.max_added_bytes:
                raise ApiError(
                    413, "quota_exceeded",
                    f"Adding {size:,} bytes would exceed the quota for added documents "
                    f"({self.added_bytes:,} of {self.config.max_added_bytes:,} bytes used).",
                )  # fmt: skip
            if source is not None and source in self.index.sources():
                message = f"A document with source {source!r} exists already; choose another name."
                raise ApiError(409, "source_exists", message)
            try:
                info = self.index.add_document(title, text, source=source or self._free_source(title),
                                               classification=classification)  # fmt: skip
            except ValueError as exc:  # the index's own limits; its messages are ours, without secrets
                raise ApiError(413 if "limit" in str(exc) else 422, "invalid_request", str(exc)) from exc
            self.added_bytes += size
            if self.policy is not None:
                info["sensitive_terms_added"] = len(self.policy.add_document(text, classification, title))
        return info
