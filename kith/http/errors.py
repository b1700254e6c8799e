"""The error envelope for every error: domain errors, validation, unknown routes, 500s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from kith.errors import DomainError
from kith.observability import get_logger, request_id_var

log = get_logger("kith.errors")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def envelope(
    *,
    status: int,
    code: str,
    message: str,
    path: str,
    details: Any = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    meta: dict[str, Any] = {}
    all_headers = dict(headers or {})
    if retry_after is not None:
        meta["retryAfter"] = retry_after
        all_headers["Retry-After"] = str(retry_after)
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "traceId": request_id_var.get(),
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "path": path,
        },
        "meta": meta,
    }
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type="application/json",
        headers=all_headers,
    )


def internal_error(path: str) -> Response:
    """The 500 envelope: no exception text, no traceback, only the trace id."""
    return envelope(
        status=500,
        code="INTERNAL_ERROR",
        message="An unexpected error occurred. Quote the trace id when reporting it.",
        path=path,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


def validation_details(errors: Any) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        item = {
            "field": _field_path(loc),
            "location": str(loc[0]) if loc else "body",
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "invalid"),
        }
        details.append(item)
    return details


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers on this path (for the ``Allow`` of a 405)."""
    allowed = []
    for method in _METHODS:
        probe: dict[str, Any] = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
        }
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return envelope(
            status=exc.status_code,
            code=exc.code,
            message=exc.message,
            path=request.url.path,
            details=exc.details,
            retry_after=exc.retry_after,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = validation_details(exc.errors())
        json_invalid = any(d["type"] == "json_invalid" for d in details)
        message = (
            "The request body is not valid JSON."
            if json_invalid
            else (
                "The request is not valid: "
                + "; ".join(f"{d['field'] or d['location']}: {d['message']}" for d in details[:5])
            )
        )
        return envelope(
            status=422,
            code="VALIDATION_ERROR",
            message=message,
            path=request.url.path,
            details=details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError | RecursionError):
            # FastAPI answers 400 when json.loads fails other than with a JSONDecodeError
            # (bytes that are not UTF-8, nesting too deep): malformed JSON all the same.
            return envelope(
                status=422,
                code="VALIDATION_ERROR",
                message="The request body is not valid JSON.",
                path=request.url.path,
                details=[
                    {
                        "field": "",
                        "location": "body",
                        "message": "JSON decode error",
                        "type": "json_invalid",
                    }
                ],
            )
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            message = "The resource was not found."
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; list them all.
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return envelope(
            status=exc.status_code,
            code=code,
            message=message,
            path=request.url.path,
            details=getattr(exc, "details", None),
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Normally RequestContextMiddleware has already logged and answered.
        if not getattr(exc, "__kith_logged__", False):
            log.error("unhandled_error", path=request.url.path, exc_info=exc)
        return internal_error(request.url.path)
