"""create_app(settings): routers, middleware and app state. Assembly only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from kith import __version__, crypto
from kith.audit.router import router as audit_router
from kith.auth.router import auth_router, keys_router, teams_router, users_router
from kith.auth.service import AuthContext
from kith.auth.tokens import Passwords
from kith.companies.router import router as companies_router
from kith.contacts.router import router as contacts_router
from kith.db.engine import Database
from kith.graph.router import router as graph_router
from kith.http.errors import install_error_handlers
from kith.http.idempotency import IdempotencyMiddleware
from kith.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from kith.http.ops import DEFAULT_CHECKS
from kith.http.ops import router as ops_router
from kith.http.ratelimit import LoginThrottle, RateLimitMiddleware
from kith.http.wire import ErrorEnvelope
from kith.jobs.router import router as jobs_router
from kith.observability import Metrics, configure_logging
from kith.settings import Settings
from kith.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text}
    for code, text in {
        401: "Not authenticated",
        403: "Not permitted (FORBIDDEN)",
        404: "Not found (also another tenant's record)",
        409: "Conflict",
        412: "If-Match did not match",
        413: "Body too large",
        422: "Validation error",
        429: "Rate limited (see Retry-After)",
    }.items()
}


def configure_crypto(settings: Settings) -> None:
    crypto.configure(
        crypto.Keyring(settings.resolved_encryption_keys, settings.resolved_blind_index_key)
    )


def background_lifespan(settings: Settings) -> Any:
    """Start the embedded worker and dispatcher (``kith serve``) with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from kith.runtime import Runtime

        runtime = Runtime(settings, app.state.database)
        runtime.start_embedded()
        app.state.runtime = runtime
        try:
            yield
        finally:
            runtime.stop()

    return lifespan


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    key_prefix: str = "kith",
) -> FastAPI:
    settings = settings or Settings()
    settings.validate_for_startup()
    configure_logging(settings.log_level, json=settings.log_json)
    configure_crypto(settings)
    database = database or Database.from_settings(settings)

    app = FastAPI(
        title="Kith API",
        version=__version__,
        description="Kith, a relationship-first CRM. All errors use one envelope "
        "`{error: {code, message, details, traceId, timestamp, path}, meta}`.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=background_lifespan(settings) if settings.embedded_worker else None,
    )
    metrics = Metrics()
    app.state.settings = settings
    app.state.database = database
    app.state.metrics = metrics
    app.state.auth = AuthContext(
        settings=settings,
        passwords=Passwords(settings),
        throttle=LoginThrottle(settings, key_prefix=key_prefix),
    )
    app.state.readiness_checks = dict(DEFAULT_CHECKS)

    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    routers = (
        auth_router,
        users_router,
        teams_router,
        keys_router,
        audit_router,
        contacts_router,
        companies_router,
        jobs_router,
        webhooks_router,
        graph_router,
    )
    for router in routers:
        api.include_router(router)
    app.include_router(api)
    app.include_router(ops_router)

    # Added innermost first: the request context wraps everything.
    app.add_middleware(
        IdempotencyMiddleware, settings=settings, get_database=lambda: app.state.database
    )
    app.add_middleware(RateLimitMiddleware, settings=settings, key_prefix=key_prefix)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
            allow_credentials=False,
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics, hsts=settings.is_production)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn (``kith serve``)."""
    return create_app()
