"""Request rate limits: one budget per credential, or per IP when anonymous.

The suite runs once with in-process storage and once with ``KITH_TEST_REDIS_URL``
set, so the same tests exercise the Redis storage.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kith.auth.roles import Role
from tests.assertions import assert_envelope
from tests.conftest import TEST_REDIS_URL, TransactionalDatabase
from tests.factories import Factory, Member, Tenant
from tests.http.conftest import AppFactory, count_teams

ME = "/api/v1/users/me"
OpenClient = Callable[..., TestClient]


def _assert_limited(response: Any) -> int:
    error = assert_envelope(response, 429, "RATE_LIMIT_EXCEEDED")
    assert error["path"] == response.request.url.path
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert response.json()["meta"] == {"retryAfter": retry_after}
    return retry_after


def _spend(client: TestClient, member: Member | None, count: int = 3, path: str = ME) -> None:
    headers = member.headers if member else {}
    for _ in range(count):
        response = client.get(path, headers=headers)
        assert response.status_code != 429, response.text


@pytest.fixture
def limited(make_app: AppFactory, open_client: OpenClient) -> TestClient:
    return open_client(make_app(rate_limit="3/minute"))


def test_fourth_request_in_a_minute_is_429_with_retry_after(
    limited: TestClient, tenant: Tenant
) -> None:
    for _ in range(3):
        assert limited.get(ME, headers=tenant.admin.headers).status_code == 200
    _assert_limited(limited.get(ME, headers=tenant.admin.headers))
    # Every route shares the one budget, and it stays spent.
    _assert_limited(limited.get("/api/v1/teams", headers=tenant.admin.headers))
    _assert_limited(limited.post("/api/v1/teams", json={"name": "x"}, headers=tenant.admin.headers))


def test_a_limited_request_does_not_run(
    limited: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    _spend(limited, tenant.admin)
    blocked = limited.post("/api/v1/teams", json={"name": "x"}, headers=tenant.admin.headers)
    _assert_limited(blocked)
    assert count_teams(db, tenant.organization_id) == 0


def test_budgets_are_per_credential(
    limited: TestClient, client: TestClient, factory: Factory, tenant: Tenant
) -> None:
    colleague = tenant.member(Role.SALES_REP)
    stranger = factory.tenant().admin
    # An API key of the admin is a credential of its own (created on an unlimited app).
    created = client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "VIEWER"}, headers=tenant.admin.headers
    )
    assert created.status_code == 201, created.text
    api_key = {"Authorization": f"Bearer {created.json()['key']}"}

    _spend(limited, tenant.admin)
    _assert_limited(limited.get(ME, headers=tenant.admin.headers))
    # Another session of the same user is the same budget.
    _assert_limited(limited.get(ME, headers=factory.headers(tenant.admin)))

    assert limited.get(ME, headers=colleague.headers).status_code == 200
    assert limited.get(ME, headers=stranger.headers).status_code == 200
    assert limited.get("/api/v1/teams", headers=api_key).status_code == 200
    # Anonymous callers from the same address are not charged to the admin either.
    assert limited.get(ME).status_code == 401


def test_anonymous_budgets_are_per_ip(make_app: AppFactory, open_client: OpenClient) -> None:
    app = make_app(rate_limit="3/minute")
    first = open_client(app, client=("198.51.100.1", 5000))
    second = open_client(app, client=("198.51.100.2", 5000))
    same_ip = open_client(app, client=("198.51.100.1", 6000))

    _spend(first, None, path="/api/v1/nothing")
    _assert_limited(first.get(ME))
    _assert_limited(same_ip.get(ME))  # another port, same address
    # A token that does not verify is anonymous: the address is charged.
    _assert_limited(first.get(ME, headers={"Authorization": "Bearer not-a-token"}))
    assert_envelope(second.get(ME), 401, "UNAUTHORIZED")


def test_health_ready_and_metrics_are_exempt(limited: TestClient, tenant: Tenant) -> None:
    _spend(limited, None)
    _assert_limited(limited.get(ME))
    for _ in range(5):
        assert limited.get("/health").status_code == 200
        assert limited.get("/ready").status_code == 200
        assert limited.get("/metrics").status_code == 200
    # Only the exact paths are exempt.
    _assert_limited(limited.get("/healthz"))
    _assert_limited(limited.get("/health/../api/v1/users/me"))


def test_a_limited_app_still_serves_when_the_budget_is_large(
    make_app: AppFactory, open_client: OpenClient, tenant: Tenant
) -> None:
    client = open_client(make_app(rate_limit="50/minute"))
    for _ in range(20):
        assert client.get(ME, headers=tenant.admin.headers).status_code == 200


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs KITH_TEST_REDIS_URL")
def test_with_redis_the_budget_is_shared_by_every_api_process(
    make_app: AppFactory, open_client: OpenClient, tenant: Tenant
) -> None:
    prefix = f"kith-test-{uuid.uuid4().hex}"
    one = open_client(make_app(key_prefix=prefix, rate_limit="3/minute"))
    two = open_client(make_app(key_prefix=prefix, rate_limit="3/minute"))
    assert one.get(ME, headers=tenant.admin.headers).status_code == 200
    assert two.get(ME, headers=tenant.admin.headers).status_code == 200
    assert one.get(ME, headers=tenant.admin.headers).status_code == 200
    _assert_limited(two.get(ME, headers=tenant.admin.headers))
    _assert_limited(one.get(ME, headers=tenant.admin.headers))
