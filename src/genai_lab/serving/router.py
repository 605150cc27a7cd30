"""Moved to :mod:`genai_lab.routing` (one module per layer); this module re-exports it so that
``from genai_lab.serving.router import RouterPolicy`` keeps working."""

from genai_lab.routing import (
    DEFAULT_FRESH_PATTERNS,
    DEFAULT_MARKERS,
    EXTERNAL,
    INTERNAL,
    KB_MANIFEST_ENV,
    PII_PATTERNS,
    AuditLog,
    ConfidentialRouteError,
    Decision,
    Endpoint,
    KnowledgeBaseMissing,
    RoutedResponse,
    Router,
    RouterConfig,
    RouterPolicy,
    Transport,
    adversarial_suite,
    find_personal_data,
    lcel_router,
    normalize,
    openai_transport,
    squash,
)

__all__ = [
    "DEFAULT_FRESH_PATTERNS", "DEFAULT_MARKERS", "EXTERNAL", "INTERNAL", "KB_MANIFEST_ENV", "PII_PATTERNS",
    "AuditLog", "ConfidentialRouteError", "Decision", "Endpoint", "KnowledgeBaseMissing", "RoutedResponse",
    "Router", "RouterConfig", "RouterPolicy", "Transport", "adversarial_suite", "find_personal_data",
    "lcel_router", "normalize", "openai_transport", "squash",
]  # fmt: skip
