"""Operations: /health, /ready, /metrics, request ids, security headers, access log."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from kith.app import create_app
from kith.db.engine import Database
from kith.settings import Settings
from tests.assertions import assert_envelope
from tests.conftest import TEST_REDIS_URL
from tests.factories import Tenant
from tests.http.conftest import TEAMS, AppFactory

OpenClient = Callable[..., TestClient]


def test_health_is_200(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_the_database(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if TEST_REDIS_URL else "not configured")
    assert body["checks"]["queue"] == "not configured"  # this app runs no worker
    if TEST_REDIS_URL:
        assert client.app.state.settings.redis_url == TEST_REDIS_URL


def test_ready_is_503_when_a_check_fails(make_app: AppFactory, open_client: OpenClient) -> None:
    app = make_app()

    def queue_down(_request: Request) -> None:
        raise ConnectionError("redis://:hunter2@queue:6379 refused")

    app.state.readiness_checks["queue"] = queue_down
    client = open_client(app)
    response = client.get("/ready")
    error = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert error["path"] == "/ready"
    assert error["details"]["database"] == "ok"
    assert error["details"]["queue"] == "error: ConnectionError"
    assert "hunter2" not in response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["meta"] == {"retryAfter": 5}
    # Liveness is unaffected.
    assert client.get("/health").status_code == 200


def test_ready_is_503_when_the_database_is_unreachable(
    settings: Settings, open_client: OpenClient, tmp_path: Any
) -> None:
    broken = Database(create_engine(f"sqlite:///{tmp_path}/missing/dir/kith.db"))
    app = create_app(settings, database=broken, key_prefix="kith-test-broken-db")
    response = open_client(app).get("/ready")
    error = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert error["details"]["database"] == "error: OperationalError"


# -- metrics ----------------------------------------------------------------------------


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    samples = {}
    pattern = re.compile(rf"^{name}\{{(.*)\}} (\S+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match.group(1))))
            samples[labels] = float(match.group(2))
    return samples


def test_metrics_count_requests_by_route_template(client: TestClient, tenant: Tenant) -> None:
    created = client.post(TEAMS, json={"name": "Ops"}, headers=tenant.admin.headers)
    team_id = created.json()["id"]
    for _ in range(2):
        assert client.get(f"{TEAMS}/{team_id}", headers=tenant.admin.headers).status_code == 200
    client.get(f"/api/v1/no-such-thing/{team_id}")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    requests = _samples(response.text, "kith_http_requests_total")
    key = (("method", "GET"), ("route", "/api/v1/teams/{team_id}"), ("status", "200"))
    assert requests[key] == 2.0
    assert requests[(("method", "POST"), ("route", "/api/v1/teams"), ("status", "201"))] == 1.0
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1.0
    # Raw paths (ids) never become label values.
    assert team_id not in response.text
    assert "kith_http_request_duration_seconds_bucket" in response.text


def test_metrics_count_crashes_as_500(make_app: AppFactory, open_client: OpenClient) -> None:
    app = make_app()
    router = APIRouter()

    @router.get("/boom/{item}")
    def boom(item: str) -> None:
        raise RuntimeError(item)

    app.include_router(router)
    client = open_client(app, raise_server_exceptions=False)
    assert client.get("/boom/1").status_code == 500
    requests = _samples(client.get("/metrics").text, "kith_http_requests_total")
    assert requests[(("method", "GET"), ("route", "/boom/{item}"), ("status", "500"))] == 1.0


# -- request ids --------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["abc-123", "req_1.2:3", "A" * 128])
def test_safe_request_id_is_echoed_and_used_as_trace_id(client: TestClient, given: str) -> None:
    response = client.get("/api/v1/nothing", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given
    assert assert_envelope(response, 404)["traceId"] == given
    ok = client.get("/health", headers={"X-Request-ID": given})
    assert ok.headers["x-request-id"] == given


def test_request_id_is_generated_when_missing(client: TestClient) -> None:
    first = client.get("/api/v1/nothing")
    second = client.get("/api/v1/nothing")
    for response in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
        assert_envelope(response, 404)
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "unsafe", ["has space", "<script>alert(1)</script>", "A" * 129, 'quote"d', "semi;colon", ""]
)
def test_unsafe_request_id_is_replaced(client: TestClient, unsafe: str) -> None:
    response = client.get("/api/v1/nothing", headers={"X-Request-ID": unsafe})
    generated = response.headers["x-request-id"]
    assert generated != unsafe
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert assert_envelope(response, 404)["traceId"] == generated
    assert unsafe not in response.text or not unsafe


# -- security headers -------------------------------------------------------------------


def _assert_security_headers(response: Any) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]


def test_security_headers_on_every_response(client: TestClient, tenant: Tenant) -> None:
    responses = [
        client.get("/health"),
        client.get(TEAMS, headers=tenant.admin.headers),
        client.get(TEAMS),  # 401
        client.get("/api/v1/nothing"),  # 404
        client.post(TEAMS, content=b"{", headers=tenant.admin.headers),  # 422
        client.get("/metrics"),
    ]
    for response in responses:
        _assert_security_headers(response)
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
    assert "strict-transport-security" not in responses[0].headers


def test_docs_get_a_csp_that_lets_them_render(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    _assert_security_headers(docs)
    csp = docs.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in csp
    assert "frame-ancestors 'none'" in csp


def test_production_adds_hsts(make_app: AppFactory, open_client: OpenClient) -> None:
    client = open_client(make_app(env="production"))
    response = client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


# -- access log ---------------------------------------------------------------------------


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_access_log_lines_are_json_with_the_request_id(
    make_app: AppFactory, open_client: OpenClient, tenant: Tenant, capfd: pytest.CaptureFixture[str]
) -> None:
    client = open_client(make_app(log_level="INFO"))
    capfd.readouterr()
    response = client.get(TEAMS, headers={**tenant.admin.headers, "X-Request-ID": "log-me-1"})
    assert response.status_code == 200
    missing = client.get("/api/v1/nothing")
    client.get("/health")

    lines = [line for line in _json_lines(capfd.readouterr().err) if line["event"] == "request"]
    by_id = {line["request_id"]: line for line in lines}
    first = by_id["log-me-1"]
    assert first["method"] == "GET"
    assert first["path"] == TEAMS
    assert first["route"] == TEAMS
    assert first["status"] == 200
    assert first["level"] == "info"
    assert first["logger"] == "kith.access"
    assert isinstance(first["duration_ms"], float | int)
    assert first["timestamp"].endswith("Z")
    assert by_id[missing.headers["x-request-id"]]["status"] == 404
    assert all(line["path"] != "/health" for line in lines)
    assert "Authorization" not in json.dumps(lines)
    assert tenant.admin.headers["Authorization"].split()[1] not in json.dumps(lines)


def test_a_crash_is_logged_once_with_its_request_id(
    make_app: AppFactory, open_client: OpenClient, capfd: pytest.CaptureFixture[str]
) -> None:
    app = make_app(log_level="INFO")
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    app.include_router(router)
    client = open_client(app, raise_server_exceptions=False)
    capfd.readouterr()
    response = client.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    lines = _json_lines(capfd.readouterr().err)
    errors = [line for line in lines if line["event"] == "unhandled_error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "crash-1"
    assert errors[0]["level"] == "error"
    assert errors[0]["logger"] == "kith.errors"
    assert errors[0]["path"] == "/boom"
    assert "RuntimeError: kaput" in errors[0]["exception"]
    access = [line for line in lines if line["event"] == "request"]
    assert [(a["request_id"], a["status"]) for a in access] == [("crash-1", 500)]


def test_metrics_use_the_full_template_of_nested_routers(
    make_app: AppFactory, open_client: OpenClient
) -> None:
    app = make_app()
    inner = APIRouter(prefix="/orgs/{org_id}")

    @inner.get("/items/{item_id}")
    def item(org_id: str, item_id: str) -> dict[str, str]:
        return {"org": org_id, "item": item_id}

    outer = APIRouter(prefix="/x")
    outer.include_router(inner)
    app.include_router(outer)
    client = open_client(app)
    assert client.get("/x/orgs/42/items/7").json() == {"org": "42", "item": "7"}
    requests = _samples(client.get("/metrics").text, "kith_http_requests_total")
    route = "/x/orgs/{org_id}/items/{item_id}"
    assert requests[(("method", "GET"), ("route", route), ("status", "200"))] == 1.0
