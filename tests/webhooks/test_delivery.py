"""From the outbox to a receiver: the sink, signatures, retries, the dead letter,
redelivery and auto-disable — against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kith.audit.models import AuditEntry
from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.db.types import utcnow
from kith.events.dispatcher import Dispatcher, Event
from kith.events.models import OutboxEvent
from kith.events.outbox import publish
from kith.outbound.client import OutboundClient
from kith.settings import Settings
from kith.webhooks import delivery
from kith.webhooks.delivery import backoff, send_all_due, send_due
from kith.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from kith.webhooks.verify import verify_signature
from tests.conftest import TransactionalDatabase, make_settings
from tests.factories import Factory, Tenant
from tests.outbound.receiver import Receiver, Reply
from tests.webhooks.conftest import WEBHOOKS


def _hook(client: TestClient, tenant: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    response = client.post(WEBHOOKS, json={"url": url, **extra}, headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _emit(db: TransactionalDatabase, tenant: Tenant, event_type: str, **payload: Any) -> uuid.UUID:
    principal = Principal(tenant.organization_id, tenant.admin.user_id, Role.ADMIN)
    with db.transaction() as session:
        return publish(
            session,
            principal,
            event_type,
            aggregate_type="contact",
            aggregate_id=uuid.uuid4(),
            payload=payload or {"name": "Ada"},
        )


def _deliveries(db: TransactionalDatabase, **where: Any) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.created_at)
    for column, value in where.items():
        stmt = stmt.where(getattr(WebhookDelivery, column) == value)
    with db.transaction() as session:
        return list(session.execute(stmt).scalars())


def _subscription(db: TransactionalDatabase, tenant: Tenant, hook_id: str) -> WebhookSubscription:
    with db.transaction() as session:
        sub = session.get(WebhookSubscription, (tenant.organization_id, uuid.UUID(hook_id)))
        assert sub is not None
        return sub


def _make_due(db: TransactionalDatabase) -> None:
    with db.transaction() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == DeliveryState.PENDING)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def _send(db: TransactionalDatabase, settings: Settings) -> int:
    # A fresh client (and circuit breaker) per call keeps tests independent.
    return send_due(db, settings, client=OutboundClient(settings))


@pytest.mark.usefixtures("webhook_sink")
def test_public_event_is_delivered_signed(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    receiver: Receiver,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    hook = _hook(client, tenant, receiver.url)
    event_id = _emit(db, tenant, "contact.created", name="Ada", email="ada@acme.example")
    assert Dispatcher(db).dispatch_pending() >= 1
    (pending,) = _deliveries(db, subscription_id=uuid.UUID(hook["id"]))
    assert pending.state == DeliveryState.PENDING
    assert pending.event_id == event_id
    before = int(time.time())
    assert _send(db, hook_settings) == 1
    (seen,) = receiver.requests
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Kith-Webhooks/1"
    assert headers["x-kith-event"] == "contact.created"
    assert headers["x-kith-event-id"] == str(event_id)
    assert headers["x-kith-delivery"] == str(pending.id)
    envelope = json.loads(seen.body)
    assert envelope["id"] == str(event_id)
    assert envelope["type"] == "contact.created"
    assert envelope["organizationId"] == str(tenant.organization_id)
    assert envelope["data"] == {"name": "Ada", "email": "ada@acme.example"}
    assert envelope["occurredAt"].endswith("Z")
    assert b" " not in seen.body  # compact JSON
    # The signature, with our helper and independently.
    signature = headers["x-kith-signature"]
    secret = hook["secret"]
    assert verify_signature(secret, signature, seen.body)
    assert not verify_signature("whsec_other", signature, seen.body)
    assert not verify_signature(secret, signature, seen.body + b" ")
    parts = dict(p.split("=", 1) for p in signature.split(","))
    assert before - 1 <= int(parts["t"]) <= int(time.time()) + 1
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + seen.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    (done,) = _deliveries(db, id=pending.id)
    assert done.state == DeliveryState.SUCCEEDED
    assert done.attempts == 1
    assert done.last_status == 200
    assert done.delivered_at is not None
    assert done.next_attempt_at is None
    assert done.response is not None
    assert done.response["body"] == "ok"
    assert done.request is not None
    assert done.request["headers"]["X-Kith-Event-Id"] == str(event_id)
    assert secret not in json.dumps(done.request)
    # Nothing left to send.
    assert _send(db, hook_settings) == 0
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("webhook_sink")
def test_filters_internal_events_inactive_hooks_and_other_orgs(
    client: TestClient, factory: Factory, db: TransactionalDatabase, receiver: Receiver
) -> None:
    tenant, other = factory.tenant(), factory.tenant()
    everything = _hook(client, tenant, receiver.url)
    deals_only = _hook(client, tenant, receiver.url, eventTypes=["deal.stage_changed"])
    off = _hook(client, tenant, receiver.url)
    client.patch(f"{WEBHOOKS}/{off['id']}", json={"active": False}, headers=tenant.admin.headers)
    theirs = _hook(client, other, receiver.url)
    _emit(db, tenant, "contact.created")
    _emit(db, tenant, "deal.stage_changed", stage="WON")
    _emit(db, tenant, "user.invited", inviteUrl="https://kith.example/accept?token=secret")
    Dispatcher(db).dispatch_pending()

    def types(hook: dict[str, Any]) -> list[str]:
        rows = _deliveries(db, subscription_id=uuid.UUID(hook["id"]))
        return sorted(d.event_type for d in rows)

    assert types(everything) == ["contact.created", "deal.stage_changed"]
    assert types(deals_only) == ["deal.stage_changed"]
    assert types(off) == []
    assert types(theirs) == []
    assert _deliveries(db, event_type="user.invited") == []
    # Re-dispatching an event never duplicates its deliveries.
    (row,) = _deliveries(db, subscription_id=uuid.UUID(deals_only["id"]))
    with db.transaction() as session:
        outbox = session.execute(
            select(OutboxEvent).where(OutboxEvent.id == row.event_id)
        ).scalar_one()
        delivery.webhook_sink(session, Event.of(outbox))
    assert len(_deliveries(db, subscription_id=uuid.UUID(deals_only["id"]))) == 1


def test_retry_after_500_with_backoff_then_success(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    receiver: Receiver,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    hook = _hook(client, tenant, receiver.url)
    h = tenant.admin.headers
    queued = client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=h).json()
    receiver.reply(Reply(500, b"boom" * 2000))
    started = utcnow()
    assert _send(db, hook_settings) == 1
    (failed,) = _deliveries(db, id=uuid.UUID(queued["id"]))
    assert failed.state == DeliveryState.PENDING
    assert failed.attempts == 1
    assert failed.last_status == 500
    assert failed.last_error == "HTTP 500"
    assert failed.response is not None
    assert len(failed.response["body"]) == 4096
    assert failed.next_attempt_at is not None
    wait = (failed.next_attempt_at - started).total_seconds()
    assert 7.5 <= wait <= 12.5  # 10 s ± 20 % jitter
    assert _subscription(db, tenant, hook["id"]).consecutive_failures == 1
    # Not due yet: nothing is sent.
    assert _send(db, hook_settings) == 0
    _make_due(db)
    assert _send(db, hook_settings) == 1
    (done,) = _deliveries(db, id=uuid.UUID(queued["id"]))
    assert done.state == DeliveryState.SUCCEEDED
    assert done.attempts == 2
    assert done.last_error is None
    assert _subscription(db, tenant, hook["id"]).consecutive_failures == 0
    assert len(receiver.requests) == 2
    # Same delivery id and event id on every attempt (receivers de-duplicate by them).
    ids = {(r.headers["X-Kith-Delivery"], r.headers["X-Kith-Event-Id"]) for r in receiver.requests}
    assert ids == {(queued["id"], queued["eventId"])}
    detail = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries/{queued['id']}", headers=h).json()
    assert detail["state"] == "SUCCEEDED"
    assert detail["response"]["status"] == 200
    assert detail["request"]["headers"]["X-Kith-Event"] == "webhook.test"


def test_dead_letter_then_redeliver(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    receiver: Receiver,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    hook = _hook(client, tenant, receiver.url)
    queued = client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=h).json()
    receiver.reply(503, 502, 500)
    for _ in range(hook_settings.webhook_max_attempts):
        _make_due(db)
        assert _send(db, hook_settings) == 1
    (dead,) = _deliveries(db, id=uuid.UUID(queued["id"]))
    assert dead.state == DeliveryState.FAILED
    assert dead.attempts == 3
    assert dead.next_attempt_at is None
    failed = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries?state=FAILED", headers=h).json()
    assert [d["id"] for d in failed["data"]] == [queued["id"]]
    _make_due(db)
    assert _send(db, hook_settings) == 0  # a dead letter stays put
    again = client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{queued['id']}/redeliver", headers=h)
    assert again.status_code == 202, again.text
    assert again.json()["state"] == "PENDING"
    assert _send(db, hook_settings) == 1
    (done,) = _deliveries(db, id=uuid.UUID(queued["id"]))
    assert done.state == DeliveryState.SUCCEEDED
    assert done.attempts == 4
    assert len(receiver.requests) == 4
    # Redelivering a delivered one sends it again too.
    client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{queued['id']}/redeliver", headers=h)
    assert _send(db, hook_settings) == 1
    assert len(receiver.requests) == 5
    audit = db.connection.execute(
        select(AuditEntry.action).where(AuditEntry.entity_id == queued["id"])
    ).scalars()
    assert list(audit) == ["webhook.redelivered", "webhook.redelivered"]


def test_auto_disable_after_consecutive_failures(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    receiver: Receiver,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    hook = _hook(client, tenant, receiver.url)
    for _ in range(3):
        client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=h)
    receiver.reply(*[500] * 10)
    assert _send(db, hook_settings) == 3
    sub = _subscription(db, tenant, hook["id"])
    assert sub.active
    assert sub.consecutive_failures == 3
    _make_due(db)
    # The 4th failure (KITH_WEBHOOK_DISABLE_AFTER_FAILURES=4 here) disables it.
    assert send_due(db, hook_settings, limit=1, client=OutboundClient(hook_settings)) == 1
    sub = _subscription(db, tenant, hook["id"])
    assert not sub.active
    assert sub.consecutive_failures == 4
    assert sub.disabled_reason is not None
    assert sub.disabled_reason.startswith("Disabled after 4 consecutive failed deliveries")
    assert "HTTP 500" in sub.disabled_reason
    assert sub.version == 2
    # A disabled webhook gets nothing: neither new events nor its pending deliveries.
    sent = len(receiver.requests)
    _make_due(db)
    assert _send(db, hook_settings) == 0
    assert len(receiver.requests) == sent
    disabled = db.connection.execute(
        select(AuditEntry.actor_type).where(
            AuditEntry.entity_id == hook["id"], AuditEntry.action == "webhook.disabled"
        )
    ).scalar_one()
    assert disabled == "system"
    shown = client.get(f"{WEBHOOKS}/{hook['id']}", headers=h).json()
    assert shown["active"] is False
    assert shown["disabledReason"] == sub.disabled_reason
    enabled = client.patch(f"{WEBHOOKS}/{hook['id']}", json={"active": True}, headers=h).json()
    assert enabled["active"] is True
    assert enabled["consecutiveFailures"] == 0
    receiver.script.clear()
    _make_due(db)
    assert _send(db, hook_settings) == 3  # the pending ones go out once it is back


def test_ssrf_guard_runs_again_at_send_time(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    receiver: Receiver,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    hook = _hook(client, tenant, receiver.url)
    client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=tenant.admin.headers)
    strict = make_settings(hook_settings.database_url, hook_settings.data_dir)
    assert strict.webhook_allowed_hosts == []
    assert _send(db, strict) == 1
    assert receiver.requests == []
    (row,) = _deliveries(db, subscription_id=uuid.UUID(hook["id"]))
    assert row.state == DeliveryState.PENDING
    assert row.attempts == 1
    assert row.last_status is None
    assert row.last_error is not None
    assert "is a loopback address" in row.last_error


def test_unreachable_target_fails_and_the_circuit_defers_without_spending_attempts(
    client: TestClient, factory: Factory, db: TransactionalDatabase, hook_settings: Settings
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tenant = factory.tenant()
    hook = _hook(client, tenant, f"http://127.0.0.1:{port}/gone")
    for _ in range(6):
        client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=tenant.admin.headers)
    settings = make_settings(
        hook_settings.database_url,
        hook_settings.data_dir,
        webhook_allowed_hosts=["127.0.0.1"],
        webhook_disable_after_failures=100,
    )
    outbound = OutboundClient(settings)
    assert send_due(db, settings, client=outbound, concurrency=1) == 6
    rows = _deliveries(db, subscription_id=uuid.UUID(hook["id"]))
    spent = sorted(r.attempts for r in rows)
    assert spent == [0, 1, 1, 1, 1, 1]  # five failures open the circuit for the sixth
    deferred = next(r for r in rows if r.attempts == 0)
    assert deferred.last_error is not None
    assert deferred.last_error.startswith("circuit open")
    assert deferred.next_attempt_at is not None
    assert deferred.next_attempt_at > utcnow()
    assert all(r.last_error for r in rows)


def test_claims_are_exclusive(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    hook = _hook(client, tenant, "http://127.0.0.1:9/hook")
    for _ in range(3):
        client.post(f"{WEBHOOKS}/{hook['id']}/test", headers=tenant.admin.headers)
    now = utcnow()
    first = delivery._claim(db, now, timedelta(seconds=60), 2)
    second = delivery._claim(db, now, timedelta(seconds=60), 10)
    third = delivery._claim(db, now, timedelta(seconds=60), 10)
    assert len(first) == 2
    assert len(second) == 1
    assert third == []
    assert {j.id for j in first}.isdisjoint({j.id for j in second})
    leased = _deliveries(db, subscription_id=uuid.UUID(hook["id"]))
    assert all(
        r.next_attempt_at and r.next_attempt_at >= now + timedelta(seconds=59) for r in leased
    )


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, base in [(1, 10), (2, 20), (3, 40), (6, 320)]:
        seconds = backoff(attempt, rng=rng).total_seconds()
        assert base * 0.8 <= seconds <= base * 1.2
    assert backoff(30, rng=rng).total_seconds() <= 6 * 3600
    spread = {round(backoff(3, rng=rng).total_seconds(), 3) for _ in range(20)}
    assert len(spread) > 10


@pytest.mark.usefixtures("webhook_sink")
def test_the_sender_drains_a_backlog_larger_than_one_round(
    client: TestClient,
    factory: Factory,
    db: TransactionalDatabase,
    receiver: Receiver,
    hook_settings: Settings,
) -> None:
    tenant = factory.tenant()
    _hook(client, tenant, receiver.url)
    for n in range(7):
        _emit(db, tenant, "contact.created", name=f"Contact {n}")
    assert Dispatcher(db).dispatch_pending() >= 7
    assert send_all_due(db, hook_settings, limit=3) == 7
    assert len(receiver.requests) == 7
    assert {d.state for d in _deliveries(db)} == {DeliveryState.SUCCEEDED}
