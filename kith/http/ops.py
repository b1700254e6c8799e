"""Operational endpoints: /health (liveness), /ready (dependencies), /metrics."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from kith.db.engine import Database
from kith.errors import ServiceUnavailable

router = APIRouter(tags=["operations"])

# A check raises when its dependency is down; it may return a status other than "ok"
# (e.g. "not configured") that does not make the process unready.
ReadinessCheck = Callable[[Request], str | None]
NOT_CONFIGURED = "not configured"
_FINE = {"ok", NOT_CONFIGURED}


def check_database(request: Request) -> str | None:
    database: Database = request.app.state.database
    with database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return None


def check_redis(request: Request) -> str | None:
    url = request.app.state.settings.redis_url
    if not url:
        return NOT_CONFIGURED
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return None


def check_queue(request: Request) -> str | None:
    """The job queue of this process's worker answers (none with ``--no-worker``)."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return NOT_CONFIGURED
    runtime.queue.huey.pending_count()
    return None


DEFAULT_CHECKS: dict[str, ReadinessCheck] = {
    "database": check_database,
    "redis": check_redis,
    "queue": check_queue,
}


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> dict[str, object]:
    """Readiness: every dependency (database, queue/Redis) answers."""
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            status: str | None = await anyio.to_thread.run_sync(check, request)
            results[name] = status or "ok"
        except Exception as exc:  # any failure makes us unready
            results[name] = f"error: {type(exc).__name__}"
    if any(v not in _FINE for v in results.values()):
        raise ServiceUnavailable("Not ready.", details=results, retry_after=5)
    return {"status": "ready", "checks": results}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
