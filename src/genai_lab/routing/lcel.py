"""The same routing in LCEL: classify with a lambda, then a ``RunnableBranch``."""

from __future__ import annotations

import uuid
from typing import Any

from genai_lab.routing.policy import INTERNAL
from genai_lab.routing.router import ConfidentialRouteError, Router


def lcel_router(router: Router, internal_llm: Any = None, external_llm: Any = None) -> Any:
    """The same routing in LCEL: classify with a lambda, then a ``RunnableBranch``.

    ``chain.invoke("question")`` returns the model's message. Models default to ``ChatOpenAI`` on
    the configured endpoints. The internal branch fails closed: its errors become
    :class:`ConfidentialRouteError` and there is no fallback to the external branch."""
    from langchain_core.runnables import RunnableBranch, RunnableLambda

    internal_llm = internal_llm or router.config.internal.chat_model()
    external_llm = external_llm or router.config.external.chat_model()

    def classify(text: str) -> dict[str, Any]:
        decision = router.decide(text)
        router._log(uuid.uuid4().hex, text, decision, "routed-lcel")
        return {"text": text, "decision": decision}

    def call_internal(x: dict[str, Any]) -> Any:
        try:
            return internal_llm.invoke(x["text"])
        except Exception as exc:
            raise ConfidentialRouteError(
                f"The internal endpoint failed ({type(exc).__name__}); the request was NOT sent to "
                f"the external endpoint ({x['decision'].explain()})."
            ) from exc

    def call_external(x: dict[str, Any]) -> Any:
        payload, _ = router.outbound(x["text"], x["decision"])
        return external_llm.invoke(payload)

    return RunnableLambda(classify) | RunnableBranch(
        (lambda x: x["decision"].route == INTERNAL, RunnableLambda(call_internal)),
        RunnableLambda(call_external),
    )
