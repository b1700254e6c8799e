"""/webhooks through the API: secrets, the SSRF guard at save time, filters, roles,
ETags, audit and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Text, func, select, type_coerce

from kith.audit.models import AuditEntry
from kith.auth.roles import Role
from kith.webhooks.models import WebhookSubscription
from tests.conftest import TransactionalDatabase
from tests.factories import Factory, Tenant
from tests.webhooks.conftest import WEBHOOKS


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    if code:
        assert error["code"] == code
    return error


def _create(client: TestClient, tenant: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    response = client.post(WEBHOOKS, json={"url": url, **extra}, headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _count(db: TransactionalDatabase, model: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for column, value in where.items():
        stmt = stmt.where(getattr(model, column) == value)
    return int(db.connection.execute(stmt).scalar_one())


def test_create_shows_the_secret_once_and_stores_it_encrypted(
    client: TestClient, factory: Factory, db: TransactionalDatabase
) -> None:
    tenant = factory.tenant()
    created = _create(
        client,
        tenant,
        "http://127.0.0.1:9/hook",
        eventTypes=["contact.created", "deal.stage_changed"],
        description="CRM sync",
    )
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 30
    assert created["eventTypes"] == ["contact.created", "deal.stage_changed"]
    assert created["active"] is True
    assert created["consecutiveFailures"] == 0
    assert created["createdBy"] == str(tenant.admin.user_id)
    assert created["version"] == 1
    h = tenant.admin.headers
    one = client.get(f"{WEBHOOKS}/{created['id']}", headers=h)
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert one.headers["etag"] == '"1"'
    listed = client.get(WEBHOOKS, headers=h).json()
    assert listed["totalCount"] == 1
    assert listed["pagination"]["hasNext"] is False
    assert "secret" not in listed["data"][0]
    assert secret not in client.get(WEBHOOKS, headers=h).text
    table = WebhookSubscription.__table__
    raw = db.connection.execute(
        select(type_coerce(table.c.secret, Text)).where(table.c.id == uuid.UUID(created["id"]))
    ).scalar_one()
    assert secret not in raw
    assert raw.startswith("t1:")
    audit = db.connection.execute(
        select(AuditEntry.action, AuditEntry.changes).where(AuditEntry.entity_id == created["id"])
    ).all()
    assert [a for a, _ in audit] == ["webhook.created"]
    assert secret not in str(audit[0][1])


def test_empty_filter_means_every_public_event(client: TestClient, factory: Factory) -> None:
    created = _create(client, factory.tenant(), "http://127.0.0.1:9/hook")
    assert created["eventTypes"] == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "webhook target 127.0.0.1 is a loopback address"),
        ("http://localhost/hook", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://10.0.0.5/hook", "a private address"),
        ("http://[::1]/hook", "a loopback address"),
        ("http://0x7f000001/hook", "a loopback address"),
        ("ftp://93.184.215.14/hook", "http or https"),
    ],
)
def test_refused_targets_are_422_and_nothing_is_written(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    app: Any,
    url: str,
    reason: str,
) -> None:
    app.state.settings.webhook_allowed_hosts = []
    tenant = factory.tenant()
    response = client.post(WEBHOOKS, json={"url": url}, headers=tenant.admin.headers)
    error = _error(response, 422, "VALIDATION_ERROR")
    assert reason in error["message"]
    assert error["details"][0]["field"] == "url"
    if "http or https" not in reason:
        assert "KITH_WEBHOOK_ALLOWED_HOSTS" in error["message"]
    assert _count(db, WebhookSubscription, organization_id=tenant.organization_id) == 0
    assert _count(db, AuditEntry, organization_id=tenant.organization_id) == 0


def test_unknown_event_types_are_named(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    response = client.post(
        WEBHOOKS,
        json={
            "url": "http://127.0.0.1:9/",
            "eventTypes": ["contact.created", "nope", "user.invited"],
        },
        headers=tenant.admin.headers,
    )
    error = _error(response, 422, "VALIDATION_ERROR")
    assert "nope" in error["message"]
    assert "user.invited" in error["message"]
    assert error["details"][0]["field"] == "eventTypes"
    assert error["details"][0]["unknown"] == ["nope", "user.invited"]
    # Unknown input fields are refused too.
    extra = client.post(
        WEBHOOKS,
        json={"url": "http://127.0.0.1:9/", "secret": "whsec_mine"},
        headers=tenant.admin.headers,
    )
    _error(extra, 422, "VALIDATION_ERROR")


def test_patch_checks_url_and_if_match_and_reenables(
    client: TestClient, factory: Factory, db: TransactionalDatabase, app: Any
) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    created = _create(client, tenant, "http://127.0.0.1:9/a")
    path = f"{WEBHOOKS}/{created['id']}"
    changed = client.patch(
        path,
        json={"eventTypes": ["contact.updated"], "description": "d"},
        headers={**h, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.json()["eventTypes"] == ["contact.updated"]
    assert changed.headers["etag"] == '"2"'
    stale = client.patch(path, json={"description": "x"}, headers={**h, "If-Match": '"1"'})
    _error(stale, 412)
    app.state.settings.webhook_allowed_hosts = []
    refused = client.patch(path, json={"url": "http://127.0.0.1:9/b"}, headers=h)
    assert "loopback" in _error(refused, 422, "VALIDATION_ERROR")["message"]
    assert client.get(path, headers=h).json()["url"] == "http://127.0.0.1:9/a"
    public = client.patch(path, json={"url": "https://93.184.215.14/in"}, headers=h)
    assert public.json()["url"] == "https://93.184.215.14/in"
    # Disabled (as after repeated failures), then re-enabled: the count starts again.
    with db.transaction() as session:
        sub = session.get(WebhookSubscription, (tenant.organization_id, uuid.UUID(created["id"])))
        assert sub is not None
        sub.active = False
        sub.consecutive_failures = 7
        sub.disabled_reason = "Disabled after 7 consecutive failed deliveries."
    off = client.get(path, headers=h).json()
    assert off["active"] is False
    assert off["disabledReason"].startswith("Disabled after 7")
    on = client.patch(path, json={"active": True}, headers=h).json()
    assert on["active"] is True
    assert on["consecutiveFailures"] == 0
    assert on["disabledReason"] is None
    actions = db.connection.execute(
        select(AuditEntry.action)
        .where(AuditEntry.entity_id == created["id"])
        .order_by(AuditEntry.occurred_at)
    ).scalars()
    assert list(actions).count("webhook.updated") == 3


def test_rotate_secret_and_delete(
    client: TestClient, factory: Factory, db: TransactionalDatabase
) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    created = _create(client, tenant, "http://127.0.0.1:9/a")
    path = f"{WEBHOOKS}/{created['id']}"
    rotated = client.post(f"{path}/rotate-secret", headers=h)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    with db.transaction() as session:
        sub = session.get(WebhookSubscription, (tenant.organization_id, uuid.UUID(created["id"])))
        assert sub is not None
        assert sub.secret == rotated.json()["secret"]
    queued = client.post(f"{path}/test", headers=h)
    assert queued.status_code == 202
    assert client.delete(path, headers={**h, "If-Match": '"1"'}).status_code == 412
    assert client.delete(path, headers=h).status_code == 204
    _error(client.get(path, headers=h), 404, "NOT_FOUND")
    _error(client.get(f"{path}/deliveries", headers=h), 404, "NOT_FOUND")
    actions = set(
        db.connection.execute(
            select(AuditEntry.action).where(AuditEntry.organization_id == tenant.organization_id)
        ).scalars()
    )
    assert {
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.tested",
        "webhook.deleted",
    } <= actions


@pytest.mark.parametrize(
    "role", [Role.SALES_MANAGER, Role.SALES_REP, Role.MARKETING_MANAGER, Role.VIEWER]
)
def test_only_admins_manage_webhooks(client: TestClient, factory: Factory, role: Role) -> None:
    tenant = factory.tenant()
    created = _create(client, tenant, "http://127.0.0.1:9/a")
    path = f"{WEBHOOKS}/{created['id']}"
    h = tenant.member(role).headers
    for response in (
        client.post(WEBHOOKS, json={"url": "http://127.0.0.1:9/b"}, headers=h),
        client.get(WEBHOOKS, headers=h),
        client.get(path, headers=h),
        client.patch(path, json={"description": "x"}, headers=h),
        client.delete(path, headers=h),
        client.post(f"{path}/rotate-secret", headers=h),
        client.post(f"{path}/test", headers=h),
        client.get(f"{path}/deliveries", headers=h),
    ):
        _error(response, 403, "FORBIDDEN")


def test_another_organizations_webhook_is_404_everywhere(
    client: TestClient, factory: Factory
) -> None:
    mine, theirs = factory.tenant(), factory.tenant()
    their_hook = _create(client, theirs, "http://127.0.0.1:9/theirs")
    queued = client.post(f"{WEBHOOKS}/{their_hook['id']}/test", headers=theirs.admin.headers)
    their_delivery = queued.json()["id"]
    my_hook = _create(client, mine, "http://127.0.0.1:9/mine")
    h = mine.admin.headers
    base = f"{WEBHOOKS}/{their_hook['id']}"
    for response in (
        client.get(base, headers=h),
        client.patch(base, json={"description": "x"}, headers=h),
        client.delete(base, headers=h),
        client.post(f"{base}/rotate-secret", headers=h),
        client.post(f"{base}/test", headers=h),
        client.get(f"{base}/deliveries", headers=h),
        client.get(f"{base}/deliveries/{their_delivery}", headers=h),
        client.post(f"{base}/deliveries/{their_delivery}/redeliver", headers=h),
        # Their delivery under my webhook.
        client.get(f"{WEBHOOKS}/{my_hook['id']}/deliveries/{their_delivery}", headers=h),
        client.post(f"{WEBHOOKS}/{my_hook['id']}/deliveries/{their_delivery}/redeliver", headers=h),
    ):
        _error(response, 404, "NOT_FOUND")
    assert [w["id"] for w in client.get(WEBHOOKS, headers=h).json()["data"]] == [my_hook["id"]]
    theirs_now = client.get(base, headers=theirs.admin.headers).json()
    assert theirs_now["version"] == 1
    assert theirs_now["description"] is None


def test_deliveries_list_and_detail(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    created = _create(client, tenant, "http://127.0.0.1:9/a", eventTypes=["contact.created"])
    path = f"{WEBHOOKS}/{created['id']}"
    first = client.post(f"{path}/test", headers=h).json()
    client.post(f"{path}/test", headers=h)
    assert first["eventType"] == "webhook.test"
    assert first["state"] == "PENDING"
    assert first["webhookId"] == created["id"]
    listed = client.get(f"{path}/deliveries?limit=1", headers=h).json()
    assert listed["totalCount"] == 2
    assert listed["pagination"]["hasNext"] is True
    assert "payload" not in listed["data"][0]
    assert client.get(f"{path}/deliveries?state=FAILED", headers=h).json()["totalCount"] == 0
    _error(client.get(f"{path}/deliveries?state=LOST", headers=h), 422)
    _error(client.get(f"{path}/deliveries?sort=url", headers=h), 422)
    detail = client.get(f"{path}/deliveries/{first['id']}", headers=h).json()
    assert detail["payload"]["type"] == "webhook.test"
    assert detail["payload"]["id"] == detail["eventId"]
    assert detail["payload"]["organizationId"] == str(tenant.organization_id)
    assert detail["request"] is None
    assert detail["response"] is None
