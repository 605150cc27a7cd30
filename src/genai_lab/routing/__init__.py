"""Multi-LLM routing that keeps internal data internal (Part 2b).

A request goes to the **external** endpoint only when every layer of :class:`RouterPolicy` passes
and it asks for fresh or web information; everything else stays **internal**. The layers, in order
(each names why it fired, and the audit log records it):

1. :mod:`.decoding`: URL/HTML/base64/hex/JSON views, NFKC, confusable skeletons, invisible characters;
2. :mod:`.personal_data`: e-mail, phones (Korean too), IBAN, cards, RRN/BRN (checksums via stdnum), IPs;
3. :mod:`.credentials` (secrets via detect-secrets) and markers in :mod:`.vocabulary` (English, Korean);
4. :mod:`.vocabulary`: project names, document titles, names and ids mined from the knowledge base;
5. :mod:`.semantic`: the nearest knowledge-base chunks are not public (MiniLM, lazy).

:mod:`.router` sends (fails closed, audits), :mod:`.lcel` does it in LCEL, :mod:`.mutations` and
:mod:`.evaluation` test it. ``genai_lab.serving.router`` re-exports all of this.
"""

from genai_lab.routing.decoding import normalize, skeleton, squash, views
from genai_lab.routing.evaluation import adversarial_suite
from genai_lab.routing.lcel import lcel_router
from genai_lab.routing.personal_data import PII_PATTERNS, find_personal_data
from genai_lab.routing.policy import (
    EXTERNAL,
    INTERNAL,
    KB_MANIFEST_ENV,
    Decision,
    KnowledgeBaseMissing,
    RouterPolicy,
)
from genai_lab.routing.router import (
    AuditLog,
    ConfidentialRouteError,
    Endpoint,
    RoutedResponse,
    Router,
    RouterConfig,
    Transport,
    openai_transport,
)
from genai_lab.routing.vocabulary import DEFAULT_FRESH_PATTERNS, DEFAULT_MARKERS

__all__ = [
    "DEFAULT_FRESH_PATTERNS", "DEFAULT_MARKERS", "EXTERNAL", "INTERNAL", "KB_MANIFEST_ENV", "PII_PATTERNS",
    "AuditLog", "ConfidentialRouteError", "Decision", "Endpoint", "KnowledgeBaseMissing", "RoutedResponse",
    "Router", "RouterConfig", "RouterPolicy", "Transport", "adversarial_suite", "find_personal_data",
    "lcel_router", "normalize", "openai_transport", "skeleton", "squash", "views",
]  # fmt: skip
