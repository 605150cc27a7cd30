"""The router: endpoints from configuration, the transport, the audit log, and failing closed.

Two OpenAI-compatible endpoints, set by configuration (:class:`RouterConfig`):

- **internal**: a model we run ourselves (here a local vLLM server); it may see anything;
- **external**: a hosted model (or, offline, a second local vLLM server playing that role); it may
  see only requests the policy clears (:class:`~genai_lab.routing.policy.RouterPolicy`).

How a request is *sent* is a :data:`Transport`: a function of the endpoint, the messages and the
options that returns the answer. The default is the ``openai`` client; tests pass a recorder, and a
transport for the external endpoint that first searches the web (or anything else) plugs in the same
way (``Router(..., transports={"external": my_search_answer})``).

Every decision is appended to a JSON Lines audit log (:class:`genai_lab.audit.AuditLog`, the package's
one audit schema, shared with the capstone app): the time, the route, the reasons (each names the layer
that fired), the endpoint, and a SHA-256 of the text (never the text itself, which may be confidential).

If the internal endpoint is down, a confidential request **fails closed**: the router raises
:class:`ConfidentialRouteError` and never reroutes it outside.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_lab.audit import AuditLog, AuditRecord
from genai_lab.routing.personal_data import find_personal_data
from genai_lab.routing.policy import EXTERNAL, INTERNAL, Decision, RouterPolicy


class ConfidentialRouteError(RuntimeError):
    """A request that must stay internal could not be served internally. It was not sent elsewhere."""


# ------------------------------------------------------------------------------------------------
# Endpoints and configuration
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint: base URL, model name and where its API key comes from."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None  # e.g. "OPENAI_API_KEY" for a hosted API; None: no key ("EMPTY")

    def api_key(self) -> str:
        if self.api_key_env is None:
            return "EMPTY"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise RuntimeError(
                f"Endpoint {self.name!r} reads its API key from ${self.api_key_env}, which is not set."
            )
        return key

    def chat_model(self, **kwargs: Any) -> Any:
        """LangChain's ``ChatOpenAI`` pointed at this endpoint (no retries: failures surface)."""
        from langchain_openai import ChatOpenAI

        kwargs.setdefault("temperature", 0.0)
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 60)
        return ChatOpenAI(base_url=self.base_url, api_key=self.api_key(), model=self.model, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RouterConfig:
    """The two endpoints. Offline both are local vLLM servers; for a hosted external model set, e.g.::

        GENAI_LAB_EXTERNAL_URL=https://api.openai.com/v1
        GENAI_LAB_EXTERNAL_MODEL=gpt-4o-mini
        GENAI_LAB_EXTERNAL_API_KEY_ENV=OPENAI_API_KEY

    and nothing else changes."""

    internal: Endpoint
    external: Endpoint

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RouterConfig:
        """From ``{"internal": {"base_url": ..., "model": ...}, "external": {...}}``."""
        try:
            return cls(
                internal=Endpoint(INTERNAL, **dict(data[INTERNAL])),
                external=Endpoint(EXTERNAL, **dict(data[EXTERNAL])),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(
                "Router configuration needs 'internal' and 'external', each with 'base_url' and "
                f"'model' (and optionally 'api_key_env'); got {dict(data)!r} ({exc})."
            ) from exc

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RouterConfig:
        """From ``GENAI_LAB_{INTERNAL,EXTERNAL}_{URL,MODEL,API_KEY_ENV}``."""
        env = os.environ if env is None else env
        parts: dict[str, dict[str, Any]] = {}
        for role in (INTERNAL, EXTERNAL):
            prefix = f"GENAI_LAB_{role.upper()}_"
            missing = [k for k in ("URL", "MODEL") if not env.get(prefix + k)]
            if missing:
                raise ValueError(f"Set {', '.join(prefix + k for k in missing)} to configure the {role} endpoint.")
            parts[role] = {
                "base_url": env[prefix + "URL"],
                "model": env[prefix + "MODEL"],
                "api_key_env": env.get(prefix + "API_KEY_ENV"),
            }
        return cls.from_mapping(parts)


# ------------------------------------------------------------------------------------------------
# The router
# ------------------------------------------------------------------------------------------------
Transport = Callable[[Endpoint, list[dict[str, str]], dict[str, Any]], str]


def openai_transport(endpoint: Endpoint, messages: list[dict[str, str]], options: dict[str, Any]) -> str:
    """Send a chat completion with the ``openai`` client (no retries) and return the answer."""
    import openai

    timeout = options.pop("timeout", 60)
    client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(), max_retries=0, timeout=timeout)
    response = client.chat.completions.create(model=endpoint.model, messages=messages, **options)  # type: ignore[arg-type]
    return response.choices[0].message.content or ""


@dataclass(frozen=True)
class RoutedResponse:
    """An answer, the decision behind it, the endpoint that gave it, and whether it was redacted."""

    text: str
    decision: Decision
    endpoint: str
    redacted: bool


class Router:
    """Classify, (optionally) redact, send, audit. See the module docstring.

    Args:
        policy: the rules.
        config: the two endpoints.
        audit_log: path of the JSON Lines audit log.
        redact_external: redact personal data from anything sent to the external endpoint.
        transport: how to send a chat request (default: the ``openai`` client); tests pass a recorder.
        transports: a transport per endpoint name, overriding ``transport`` for that endpoint: the seam
            for an external route that answers with a web search (``{"external": search_answer}``).
    """

    def __init__(
        self,
        policy: RouterPolicy,
        config: RouterConfig,
        audit_log: str | Path,
        redact_external: bool = True,
        transport: Transport | None = None,
        transports: Mapping[str, Transport] | None = None,
    ) -> None:
        self.policy = policy
        self.config = config
        self.audit = AuditLog(audit_log)
        self.redact_external = redact_external
        self.transport = transport or openai_transport
        self.transports = dict(transports or {})
        unknown = set(self.transports) - {INTERNAL, EXTERNAL}
        if unknown:
            raise ValueError(f"transports for {sorted(unknown)}; the endpoints are 'internal' and 'external'.")

    def transport_for(self, endpoint: Endpoint) -> Transport:
        """The transport that sends to ``endpoint`` (its own one if given, else the shared one)."""
        return self.transports.get(endpoint.name, self.transport)

    def decide(self, text: str) -> Decision:
        """The policy's decision on ``text`` (no request is sent)."""
        return self.policy.classify(text)

    def _log(
        self, request_id: str, text: str, decision: Decision, outcome: str, endpoint: str | None = None, **extra: Any
    ) -> None:
        """One :class:`genai_lab.audit.AuditRecord` (the package's one audit schema): the route, the
        reasons (each names its layer), the endpoint, a SHA-256 of the text, never the text."""
        self.audit.append(
            AuditRecord.for_text(
                text,
                request_id=request_id,
                route=decision.route,
                confidential=decision.confidential,
                reasons=decision.reasons,
                outcome=outcome,
                component="router",
                model=endpoint,
                **extra,
            )
        )

    def outbound(self, text: str, decision: Decision) -> tuple[str, bool]:
        """The text actually sent: redacted for the external endpoint when asked. Raises if a
        confidential decision ever reaches here bound for outside (it cannot, by construction)."""
        if decision.route == INTERNAL:
            return text, False
        if decision.confidential:  # pragma: no cover - defended against, never expected
            raise ConfidentialRouteError("Refusing to send a confidential request to the external endpoint.")
        if self.redact_external and find_personal_data(text):
            # Redaction works on the normalised text (where look-alikes are undone); text without
            # personal data is sent exactly as written.
            return self.policy.redact(text), True
        return text, False

    def complete(self, text: str, system: str | None = None, **options: Any) -> RoutedResponse:
        """Route one user message and return the answer with the decision behind it."""
        request_id = uuid.uuid4().hex
        decision = self.decide(text)
        payload, redacted = self.outbound(text, decision)
        endpoint = self.config.internal if decision.route == INTERNAL else self.config.external
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": payload}]
        try:
            answer = self.transport_for(endpoint)(endpoint, messages, dict(options))
        except Exception as exc:
            self._log(request_id, text, decision, "error", endpoint=endpoint.name, error=type(exc).__name__)
            if decision.route == INTERNAL:
                raise ConfidentialRouteError(
                    f"The internal endpoint {endpoint.base_url} failed ({type(exc).__name__}: {exc}). "
                    f"This request stays internal ({decision.explain()}); it was NOT sent to the "
                    "external endpoint. Start or fix the internal server and retry."
                ) from exc
            raise
        self._log(request_id, text, decision, "ok", endpoint=endpoint.name, redacted=redacted)
        return RoutedResponse(answer, decision, endpoint.name, redacted)
