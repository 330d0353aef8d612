"""Every failure as OpenAI's error JSON, ``{"error": {"message", "type", "param", "code"}}``, with
the status a stock client expects: 400 malformed, 401 no or bad key, 403 not allowed, 404 unknown
knowledge base or document, 409 exists already, 413 too large, 429 busy, 503 model unavailable.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ingest.errors import InvalidName, KnowledgeBaseBusy, KnowledgeBaseError, KnowledgeBaseNotFound
from rag.llm.base import LLMUnavailable
from rag.server.limits import Busy

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "service_unavailable",
}
# Seconds a client is told to wait when a knowledge base is locked by another writer.
LOCKED_RETRY_S = 5


class ApiError(Exception):
    """A failure to answer with ``status`` and a one-line ``message``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.headers = headers or {}


def error_response(
    status: int, message: str, code: str | None = None, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The OpenAI-shaped error response."""
    body = {"message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": param, "code": code}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(where) or None
    return (f"{param}: {first.get('msg', 'invalid')}" if param else str(first.get("msg", "invalid request"))), param


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app raises, and FastAPI's own, answer in the OpenAI shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.message, error.code, error.param, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return error_response(400, message, "invalid_value", param)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Busy)
    async def busy(request: Request, error: Busy) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after_s)}
        return error_response(429, str(error), "server_busy", headers=headers)

    @app.exception_handler(KnowledgeBaseError)
    async def knowledge_base(request: Request, error: KnowledgeBaseError) -> JSONResponse:
        if isinstance(error, KnowledgeBaseNotFound):
            return error_response(404, str(error), "kb_not_found")
        if isinstance(error, KnowledgeBaseBusy):
            return error_response(429, str(error), "kb_locked", headers={"Retry-After": str(LOCKED_RETRY_S)})
        return error_response(400, str(error), "invalid_name" if isinstance(error, InvalidName) else None)

    @app.exception_handler(LLMUnavailable)
    async def model_unavailable(request: Request, error: LLMUnavailable) -> JSONResponse:
        return error_response(503, str(error), "model_unavailable")
