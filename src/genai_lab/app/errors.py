"""Every error the API sends has one shape: ``{"error": code, "message": sentence}``.

:class:`ApiError` is raised by the service; :func:`install_error_handlers` turns it, pydantic's
validation errors and Starlette's own HTTP errors (404, 405, ...) into that shape, so a client never
sees FastAPI's ``{"detail": ...}``. A message names the fix; it never holds an exception's text (which
may carry a URL with a key, or a path): unexpected failures get a generic message and the request id,
and the details go to the server log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI
    from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error the API reports as ``{"error": code, "message": message}`` with HTTP ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON response for an error (``Retry-After: 2`` added to 429 and 503)."""
    from starlette.responses import JSONResponse

    extra = dict(headers or {})
    if status in (429, 503):
        extra.setdefault("Retry-After", "2")
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=extra)


def internal_error_message(request_id: str | None) -> str:
    """The message of an unexpected failure: generic, with the id to find the details in the log."""
    rid = request_id or "unknown"
    return f"The service failed to handle this request (request id {rid}). Details are in the server log."


def validation_message(errors: list[Any]) -> str:
    """One readable sentence per pydantic error, naming the field and the fix."""
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "json_invalid":
            parts.append(
                f"The request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')}). "
                'Send a JSON object such as {"question": "How long is the warranty?"}.'
            )
        elif kind == "missing" and where == "body":
            parts.append('The request body is empty. Send a JSON object such as {"question": "..."}.')
        elif kind == "missing":
            parts.append(f"The field '{where}' is required.")
        elif kind in ("model_attributes_type", "dict_type"):
            parts.append('The body must be a JSON object such as {"question": "..."}.')
        elif kind.startswith("string") or kind.endswith("_type"):
            parts.append(f"The field '{where}': {err.get('msg', 'invalid value')}.")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid value')}.")
    return " ".join(parts) or "Invalid request."


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "timeout", 413: "body_too_large", 415: "unsupported_media_type"}


def install_error_handlers(app: FastAPI) -> None:
    """Route :class:`ApiError`, validation errors and Starlette's HTTP errors to :func:`error_response`."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_request", validation_message(list(exc.errors())))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404:
            message = f"No route {request.url.path}; see /docs for the API."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API."
        elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # not UTF-8, say
            message = "The request body could not be parsed. Send a UTF-8 JSON object such as {\"question\": \"...\"}."
        else:
            message = str(exc.detail) if isinstance(exc.detail, str) else "The request was refused."
        return error_response(exc.status_code, code, message, exc.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
