"""Layer 3a of the router: secrets (API keys, tokens, private keys, passwords, high-entropy strings).

The patterns come from ``detect-secrets`` (Yelp): the deny-lists of its plugins (AWS access keys,
GitHub/GitLab/Slack/Stripe/OpenAI/... tokens, JSON web tokens, private-key headers, ...), and its
Shannon-entropy measure for long random-looking strings. detect-secrets scans files line by line;
here we only need its patterns, so we run them on the request's views directly (case preserved:
secrets are case-sensitive). Its "Secret Keyword" plugin scans source code; a small pattern for
``password: ...`` and ``api_key=...`` in prose takes its place.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Plugins whose patterns overlap rules the router has anyway (IPv4 is personal data here).
_SKIP_PLUGINS = {"Public IP (ipv4)"}
_KEYWORD = re.compile(
    r"(?i)(?<![a-z])(?:password|passwd|pwd|passphrase|secret|api[_\- ]?key|access[_\- ]?token|auth[_\- ]?token"
    r"|client[_\- ]?secret|비밀번호|암호)\s{0,3}(?:is|[:=])\s{0,3}[\"']?[^\s\"']{6,80}"
)
_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/=_\-]{20,200}(?![A-Za-z0-9+/=_\-])")
BASE64_ENTROPY = 4.0  # bits per character (detect-secrets: 4.5 on quoted strings; ours are unquoted and shorter)
HEX_ENTROPY = 3.0  # detect-secrets' default for hex strings


@functools.lru_cache(maxsize=1)
def _denylists() -> tuple[tuple[str, re.Pattern[str]], ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    out: list[tuple[str, re.Pattern[str]]] = []
    plugin: Any
    for name, plugin in get_mapping_from_secret_type_to_class().items():
        if name in _SKIP_PLUGINS:
            continue
        instance: object = plugin()
        for pattern in getattr(instance, "denylist", ()) or ():
            out.append((name, pattern))
    return tuple(out)


def _entropy(token: str) -> float:
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin

    return float(HighEntropyStringsPlugin.calculate_shannon_entropy(_EntropyProxy, token))  # type: ignore[arg-type]


class _EntropyProxy:
    """detect-secrets computes entropy over the plugin's character set; ours is base64's."""

    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"


def _random_looking(token: str) -> bool:
    if re.fullmatch(r"[0-9a-fA-F]+", token):
        return len(token) >= 32 and _entropy(token) >= HEX_ENTROPY
    classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes == 3 and _entropy(token) >= BASE64_ENTROPY


# detect-secrets' keyword-style patterns ("ibm_cloud_key = ...") try many optional prefixes at every
# non-word character; they only match next to one of these words, so they run only when one occurs.
_KEYWORD_STYLE = "(?:(?<=\\W)|(?<=^))"
_GATE = ("key", "pw", "pass", "token", "secret")


def find_secrets(text: str) -> list[str]:
    """The kinds of secret found in ``text`` (as written: not case-folded), e.g. ``["AWS Access Key"]``."""
    found: list[str] = []
    lowered = text.lower()
    gated = any(word in lowered for word in _GATE)
    for name, pattern in _denylists():
        if pattern.pattern.startswith(_KEYWORD_STYLE) and not gated:
            continue
        if name not in found and pattern.search(text):
            found.append(name)
    if _KEYWORD.search(text):
        found.append("password or key assignment")
    if any(_random_looking(m.group(0)) for m in _TOKEN.finditer(text)):
        found.append("high-entropy string")
    return found
