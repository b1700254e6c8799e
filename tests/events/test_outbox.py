"""The transactional outbox: events live and die with the caller's transaction."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from kith import crypto
from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.events.catalogue import ALL_EVENTS, INTERNAL_EVENTS, PUBLIC_EVENTS, is_known
from kith.events.models import OutboxEvent
from kith.events.outbox import UnknownEvent, publish
from kith.observability import request_id_var
from tests.conftest import TransactionalDatabase


def _principal() -> Principal:
    return Principal(uuid.uuid4(), uuid.uuid4(), Role.SALES_REP)


def _count(db: TransactionalDatabase, **where: object) -> int:
    stmt = select(func.count()).select_from(OutboxEvent)
    for column, value in where.items():
        stmt = stmt.where(getattr(OutboxEvent, column) == value)
    return db.connection.execute(stmt).scalar_one()


def test_publish_writes_in_the_callers_transaction(db: TransactionalDatabase) -> None:
    principal = _principal()
    aggregate_id = uuid.uuid4()
    with db.transaction() as session:
        event_id = publish(
            session,
            principal,
            "contact.created",
            aggregate_type="contact",
            aggregate_id=aggregate_id,
            payload={"contactId": aggregate_id, "email": "ada@acme.example"},
        )
        assert isinstance(event_id, uuid.UUID)
    with db.transaction() as session:
        event = session.execute(select(OutboxEvent).where(OutboxEvent.id == event_id)).scalar_one()
    assert event.organization_id == principal.organization_id
    assert event.event_type == "contact.created"
    assert event.aggregate_type == "contact"
    assert event.aggregate_id == str(aggregate_id)
    assert event.actor_id == principal.user_id
    # Plain JSON: the UUID became a string.
    assert event.payload == {"contactId": str(aggregate_id), "email": "ada@acme.example"}
    assert event.delivered_at is None
    assert event.attempts == 0
    assert event.occurred_at.utcoffset() is not None
    assert event.seq is not None


def test_rolled_back_transaction_leaves_no_event(db: TransactionalDatabase) -> None:
    principal = _principal()

    def failing_change() -> None:
        with db.transaction() as session:
            publish(
                session,
                principal,
                "contact.deleted",
                aggregate_type="contact",
                aggregate_id="c-1",
                payload={},
            )
            session.flush()  # the row really reached the database before the rollback
            assert _count(db, organization_id=principal.organization_id) == 1
            raise RuntimeError("change failed")

    with pytest.raises(RuntimeError, match="change failed"):
        failing_change()
    assert _count(db, organization_id=principal.organization_id) == 0


def test_every_event_gets_its_own_id_and_increasing_seq(db: TransactionalDatabase) -> None:
    principal = _principal()
    with db.transaction() as session:
        ids = [
            publish(
                session,
                principal,
                "interaction.logged",
                aggregate_type="contact",
                aggregate_id="c-1",
                payload={"n": n},
            )
            for n in range(3)
        ]
    assert len(set(ids)) == 3
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxEvent.id, OutboxEvent.payload)
            .where(OutboxEvent.organization_id == principal.organization_id)
            .order_by(OutboxEvent.seq)
        ).all()
    assert [row.id for row in rows] == ids
    assert [row.payload["n"] for row in rows] == [0, 1, 2]


@pytest.mark.parametrize("event_type", ["contact.exploded", "", "CONTACT.CREATED", "user"])
def test_unknown_event_types_are_refused(db: TransactionalDatabase, event_type: str) -> None:
    principal = _principal()
    with pytest.raises(UnknownEvent), db.transaction() as session:
        publish(session, principal, event_type, aggregate_type="x", aggregate_id="1", payload={})
    assert _count(db, organization_id=principal.organization_id) == 0


def test_payload_is_encrypted_at_rest(db: TransactionalDatabase) -> None:
    principal = _principal()
    with db.transaction() as session:
        publish(
            session,
            principal,
            "user.invited",
            aggregate_type="user",
            aggregate_id="u-1",
            payload={"email": "grace@acme.example", "token": "one-time-secret-token"},
        )
    raw = db.connection.execute(
        text("SELECT payload, event_type FROM outbox WHERE aggregate_id = 'u-1'")
    ).one()
    assert raw.event_type == "user.invited"
    assert "grace@acme.example" not in raw.payload
    assert "one-time-secret-token" not in raw.payload
    assert '"token"' in crypto.keyring().decrypt(raw.payload)


def test_system_events_have_no_actor_and_keep_the_request_id(db: TransactionalDatabase) -> None:
    principal = Principal.system(uuid.uuid4())
    token = request_id_var.set("req-123")
    try:
        with db.transaction() as session:
            event_id = publish(
                session,
                principal,
                "lead_score.changed",
                aggregate_type="contact",
                aggregate_id="c-9",
                payload={"score": 80},
            )
    finally:
        request_id_var.reset(token)
    with db.transaction() as session:
        event = session.execute(select(OutboxEvent).where(OutboxEvent.id == event_id)).scalar_one()
    assert event.actor_id is None
    assert event.request_id == "req-123"


def test_signup_writes_a_user_created_event(client: TestClient, db: TransactionalDatabase) -> None:
    response = client.post(
        "/api/v1/auth/signup",
        json={
            "organizationName": "Outbox Inc",
            "email": "Event@Outbox.example",
            "password": "correct horse battery",
            "name": "Eve",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    with db.transaction() as session:
        (event,) = session.execute(
            select(OutboxEvent).where(
                OutboxEvent.organization_id == uuid.UUID(body["organization"]["id"])
            )
        ).scalars()
    assert event.event_type == "user.created"
    assert event.aggregate_type == "user"
    assert event.aggregate_id == body["user"]["id"]
    assert event.actor_id == uuid.UUID(body["user"]["id"])
    assert event.payload == {
        "userId": body["user"]["id"],
        "email": "event@outbox.example",
        "role": "ADMIN",
    }
    assert event.request_id == response.headers["x-request-id"]


def test_failed_signup_writes_no_event(client: TestClient, db: TransactionalDatabase) -> None:
    before = _count(db, event_type="user.created")
    response = client.post(
        "/api/v1/auth/signup",
        json={"organizationName": "X", "email": "bad", "password": "short", "name": "X"},
    )
    assert response.status_code == 422
    assert _count(db, event_type="user.created") == before


def test_catalogue_is_consistent() -> None:
    assert not PUBLIC_EVENTS & INTERNAL_EVENTS
    assert ALL_EVENTS == PUBLIC_EVENTS | INTERNAL_EVENTS
    # ARCHITECTURE.md §4 lists these.
    for name in (
        "contact.created",
        "contact.updated",
        "contact.merged",
        "contact.deleted",
        "contact.enriched",
        "interaction.logged",
        "lead_score.changed",
        "deal.stage_changed",
        "introduction.requested",
        "credits.earned",
        "viral.action.completed",
        "workflow.execution.completed",
    ):
        assert name in PUBLIC_EVENTS
    assert is_known("user.invited")
    assert not is_known("user.invited ")
