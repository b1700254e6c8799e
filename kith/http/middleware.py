"""Pure-ASGI middleware: request context (id, access log, metrics, security headers)
and the request body size limit."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kith.http.errors import envelope, internal_error
from kith.observability import Metrics, get_logger, request_id_var

log = get_logger("kith.access")
error_log = get_logger("kith.errors")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DOCS_PATHS = ("/docs", "/redoc")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    b"https://fastapi.tiangolo.com; frame-ancestors 'none'"
)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/teams/{team_id}``), never the raw
    path, so metrics keep a bounded set of labels; ``unmatched`` when no route matched."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return "unmatched"
    regex = getattr(route, "path_regex", None)
    path = str(scope.get("path", ""))
    if regex is None or regex.match(path):
        return str(template)
    # FastAPI keeps an included router's route path relative to the router's prefix:
    # put the prefix back, with any of its path parameters as placeholders.
    for index, char in enumerate(path):
        if char == "/" and regex.match(path[index:]):
            prefix = path[:index]
            break
    else:
        return str(template)
    own = set(regex.groupindex)
    values = {str(v): k for k, v in scope.get("path_params", {}).items() if k not in own}
    segments = ["{" + values[s] + "}" if s in values else s for s in prefix.split("/")]
    return "/".join(segments) + str(template)


class RequestContextMiddleware:
    """Request id (``X-Request-ID``), one JSON access line, metrics, security headers."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, hsts: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        began = time.perf_counter()
        status = 500
        started = False
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(_DOCS_PATHS) else API_CSP

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=63072000"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Answer here, inside the request context, so the 500 carries the request
            # id and security headers; Starlette's outer handler only sees a started
            # response and re-raises for the server's log.
            error_log.error("unhandled_error", path=path, exc_info=exc)
            exc.__kith_logged__ = True  # type: ignore[attr-defined]
            if not started:
                await internal_error(path)(scope, _noop_receive, send_wrapper)
            raise
        finally:
            elapsed = time.perf_counter() - began
            route = route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if path not in ("/health", "/metrics"):
                log.info(
                    "request",
                    method=method,
                    path=path,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            request_id_var.reset(token)


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a streamed body passes the limit. An HTTPException,
    so FastAPI's body parsing re-raises it (it turns other errors into a 400)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes.")
        self.details = {"maxBytes": max_bytes}


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 before they reach a handler."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        response = envelope(
            status=413,
            code="PAYLOAD_TOO_LARGE",
            message=f"The request body is larger than {self.max_bytes} bytes.",
            path=scope["path"],
            details={"maxBytes": self.max_bytes},
        )
        await response(scope, _noop_receive, send)


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}


def client_ip(scope: Scope) -> str:
    client: Any = scope.get("client")
    return str(client[0]) if client else "unknown"
