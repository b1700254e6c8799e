"""Idempotency-Key on POST: replay, reuse with another body, in-flight, release, expiry."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from kith.auth.roles import Role
from kith.auth.tokens import client_identity
from kith.db.types import utcnow
from kith.errors import ServiceUnavailable
from kith.http.idempotency import (
    COMPLETED,
    IdempotencyRecord,
    IdempotencyStore,
    purge_expired,
    request_hash,
    scope_hash,
)
from kith.settings import Settings
from tests.assertions import assert_envelope
from tests.conftest import TransactionalDatabase
from tests.factories import Factory, Member, Tenant
from tests.http.conftest import TEAMS, AppFactory, count_teams

BODY = json.dumps({"name": "EMEA sales", "description": "first"}).encode()


def _post(
    client: TestClient, member: Member, key: str, body: bytes = BODY, path: str = TEAMS
) -> Any:
    headers = {**member.headers, "Content-Type": "application/json", "Idempotency-Key": key}
    return client.post(path, content=body, headers=headers)


def _scope_of(settings: Settings, member: Member, key: str, path: str = TEAMS) -> str:
    identity = client_identity(settings, member.headers["Authorization"])
    assert identity is not None
    return scope_hash(identity, path, key)


def test_same_key_and_body_replays_the_first_response_and_creates_one_row(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    first = _post(client, tenant.admin, "create-emea-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    for _ in range(2):
        again = _post(client, tenant.admin, "create-emea-1")
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["content-type"] == first.headers["content-type"]
        # A replay is a new request with its own id, and still gets security headers.
        assert again.headers["x-request-id"] != first.headers["x-request-id"]
        assert again.headers["x-content-type-options"] == "nosniff"

    assert count_teams(db, tenant.organization_id) == 1
    listed = client.get(TEAMS, headers=tenant.admin.headers).json()
    assert [t["id"] for t in listed["data"]] == [first.json()["id"]]


def test_without_a_key_every_post_creates_a_row(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    headers = {**tenant.admin.headers, "Content-Type": "application/json"}
    for _ in range(2):
        response = client.post(TEAMS, content=BODY, headers=headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert count_teams(db, tenant.organization_id) == 2


def test_same_key_with_another_body_is_422_and_writes_nothing(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    assert _post(client, tenant.admin, "k-1").status_code == 201
    other = json.dumps({"name": "APAC sales"}).encode()
    error = assert_envelope(
        _post(client, tenant.admin, "k-1", other), 422, "IDEMPOTENCY_KEY_REUSED"
    )
    assert error["path"] == TEAMS
    # The first body still replays: the mismatch did not overwrite the record.
    replay = _post(client, tenant.admin, "k-1")
    assert replay.headers["idempotent-replayed"] == "true"
    assert count_teams(db, tenant.organization_id) == 1


def test_same_key_with_another_query_string_is_422(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    assert _post(client, tenant.admin, "k-q").status_code == 201
    response = _post(client, tenant.admin, "k-q", path=f"{TEAMS}?dryRun=true")
    assert_envelope(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert count_teams(db, tenant.organization_id) == 1


def test_key_still_processing_is_409_and_nothing_runs(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase, settings: Settings
) -> None:
    store = IdempotencyStore(lambda: db, settings)
    claimed = store.claim(_scope_of(settings, tenant.admin, "in-flight"), request_hash(BODY))
    assert claimed.kind == "proceed"

    response = _post(client, tenant.admin, "in-flight")
    assert_envelope(response, 409, "CONFLICT")
    assert response.headers["retry-after"] == "1"
    assert response.json()["meta"]["retryAfter"] == 1
    assert count_teams(db, tenant.organization_id) == 0


def test_a_claim_whose_request_died_is_taken_over(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase, settings: Settings
) -> None:
    where = _scope_of(settings, tenant.admin, "died")
    IdempotencyStore(lambda: db, settings).claim(where, request_hash(BODY))
    stale = utcnow() - timedelta(seconds=settings.idempotency_lock_seconds + 1)
    with db.transaction() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.scope_hash == where)
            .values(locked_at=stale)
        )

    response = _post(client, tenant.admin, "died")
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    assert count_teams(db, tenant.organization_id) == 1
    replay = _post(client, tenant.admin, "died")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == response.content


def test_an_expired_record_is_taken_over(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase, settings: Settings
) -> None:
    where = _scope_of(settings, tenant.admin, "old-key")
    past = utcnow() - timedelta(days=3)
    with db.transaction() as session:
        session.add(
            IdempotencyRecord(
                scope_hash=where,
                request_hash=request_hash(b'{"name": "something else entirely"}'),
                state=COMPLETED,
                status_code=201,
                response_headers=[["content-type", "application/json"]],
                response_body=base64.b64encode(b'{"stale": true}').decode(),
                created_at=past,
                locked_at=past,
                expires_at=past + timedelta(seconds=settings.idempotency_ttl_seconds),
            )
        )

    response = _post(client, tenant.admin, "old-key")
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    assert response.json()["name"] == "EMEA sales"
    assert count_teams(db, tenant.organization_id) == 1
    with db.transaction() as session:
        record = session.get(IdempotencyRecord, where)
        assert record is not None
        assert record.state == COMPLETED
        assert record.request_hash == request_hash(BODY)
        assert record.expires_at > utcnow() + timedelta(hours=24)
    replay = _post(client, tenant.admin, "old-key")
    assert replay.content == response.content


def test_keys_are_scoped_per_credential(
    client: TestClient, factory: Factory, tenant: Tenant, db: TransactionalDatabase
) -> None:
    colleague = tenant.member(Role.ADMIN)
    stranger = factory.tenant()
    first = _post(client, tenant.admin, "shared-key")
    mine = _post(client, colleague, "shared-key")
    theirs = _post(client, stranger.admin, "shared-key")
    for response in (first, mine, theirs):
        assert response.status_code == 201, response.text
        assert "idempotent-replayed" not in response.headers
    assert len({r.json()["id"] for r in (first, mine, theirs)}) == 3
    assert count_teams(db, tenant.organization_id) == 2
    assert count_teams(db, stranger.organization_id) == 1


def test_a_new_session_of_the_same_user_replays(
    client: TestClient, factory: Factory, tenant: Tenant, db: TransactionalDatabase
) -> None:
    first = _post(client, tenant.admin, "per-user")
    fresh = Member(**{**vars(tenant.admin), "headers": factory.headers(tenant.admin)})
    assert fresh.headers != tenant.admin.headers
    again = _post(client, fresh, "per-user")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert count_teams(db, tenant.organization_id) == 1


def test_the_same_key_on_another_route_is_independent(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    assert _post(client, tenant.admin, "route-key").status_code == 201
    key_body = json.dumps({"name": "zapier", "role": "VIEWER"}).encode()
    created = _post(client, tenant.admin, "route-key", key_body, path="/api/v1/api-keys")
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers


def test_anonymous_keys_do_not_meet_across_clients(
    make_app: AppFactory, open_client: Callable[..., TestClient]
) -> None:
    app = make_app()
    alice = open_client(app, client=("203.0.113.10", 40000))
    bob = open_client(app, client=("203.0.113.20", 40000))
    signup = {"organizationName": "Acme", "password": "correct horse battery", "name": "A"}
    headers = {"Idempotency-Key": "signup-1"}
    first = alice.post(
        "/api/v1/auth/signup", json={**signup, "email": "alice@acme.example"}, headers=headers
    )
    second = bob.post(
        "/api/v1/auth/signup", json={**signup, "email": "bob@acme.example"}, headers=headers
    )
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json()["user"]["email"] == "bob@acme.example"
    # The same client retrying is replayed.
    retry = alice.post(
        "/api/v1/auth/signup", json={**signup, "email": "alice@acme.example"}, headers=headers
    )
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content


@pytest.mark.parametrize("key", ["x" * 256, ""])
def test_invalid_key_is_422(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase, key: str
) -> None:
    error = assert_envelope(_post(client, tenant.admin, key), 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "Idempotency-Key"
    assert count_teams(db, tenant.organization_id) == 0


def test_longest_valid_key_is_accepted(client: TestClient, tenant: Tenant) -> None:
    key = "k" * 255
    assert _post(client, tenant.admin, key).status_code == 201
    assert _post(client, tenant.admin, key).headers["idempotent-replayed"] == "true"


def test_key_is_ignored_on_other_methods(client: TestClient, tenant: Tenant) -> None:
    team_id = tenant.team(name="Ops")
    headers = {**tenant.admin.headers, "Idempotency-Key": "patch-1"}
    first = client.patch(f"{TEAMS}/{team_id}", json={"description": "a"}, headers=headers)
    second = client.patch(f"{TEAMS}/{team_id}", json={"description": "b"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert second.json()["description"] == "b"
    assert second.json()["version"] == first.json()["version"] + 1


def test_a_client_error_is_replayed_too(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    bad = json.dumps({"name": ""}).encode()
    first = _post(client, tenant.admin, "bad-1", bad)
    assert_envelope(first, 422, "VALIDATION_ERROR")
    again = _post(client, tenant.admin, "bad-1", bad)
    assert again.status_code == 422
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["error"]["details"] == first.json()["error"]["details"]


# -- 5xx releases the key ---------------------------------------------------------------


def test_a_crash_releases_the_key_so_a_retry_runs(
    make_app: AppFactory,
    open_client: Callable[..., TestClient],
    tenant: Tenant,
    db: TransactionalDatabase,
) -> None:
    calls: list[int] = []
    router = APIRouter()

    @router.post("/flaky", status_code=201)
    def flaky() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        if len(calls) == 2:
            raise ServiceUnavailable("Try again.", retry_after=1)
        return {"attempt": len(calls)}

    app = make_app()
    app.include_router(router)
    client = open_client(app, raise_server_exceptions=False)

    crashed = _post(client, tenant.admin, "retry-me", b"{}", path="/flaky")
    assert_envelope(crashed, 500, "INTERNAL_ERROR")
    unavailable = _post(client, tenant.admin, "retry-me", b"{}", path="/flaky")
    assert_envelope(unavailable, 503, "SERVICE_UNAVAILABLE")
    assert "idempotent-replayed" not in unavailable.headers
    ok = _post(client, tenant.admin, "retry-me", b"{}", path="/flaky")
    assert ok.status_code == 201
    assert ok.json() == {"attempt": 3}
    replay = _post(client, tenant.admin, "retry-me", b"{}", path="/flaky")
    assert replay.json() == {"attempt": 3}
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(calls) == 3

    with db.transaction() as session:
        states = session.execute(select(IdempotencyRecord.state)).scalars().all()
    assert list(states).count("PROCESSING") == 0


def test_purge_removes_only_expired_records(
    db: TransactionalDatabase, settings: Settings, tenant: Tenant, client: TestClient
) -> None:
    assert _post(client, tenant.admin, "fresh").status_code == 201
    past = utcnow() - timedelta(days=3)
    with db.transaction() as session:
        session.add(
            IdempotencyRecord(
                scope_hash="0" * 64,
                request_hash="0" * 64,
                state=COMPLETED,
                created_at=past,
                locked_at=past,
                expires_at=past + timedelta(hours=1),
            )
        )
    assert purge_expired(db) == 1
    with db.transaction() as session:
        left = session.execute(select(IdempotencyRecord.scope_hash)).scalars().all()
    assert left == [_scope_of(settings, tenant.admin, "fresh")]
    assert _post(client, tenant.admin, "fresh").headers["idempotent-replayed"] == "true"


def test_a_secret_shown_once_is_not_stored_in_plaintext_for_replay(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    headers = {**tenant.admin.headers, "Idempotency-Key": "key-for-a-key"}
    body = {"name": "ci", "role": "VIEWER"}
    first = client.post("/api/v1/api-keys", json=body, headers=headers)
    assert first.status_code == 201
    secret = first.json()["key"]
    replay = client.post("/api/v1/api-keys", json=body, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["key"] == secret
    with db.transaction() as session:
        raw = session.execute(text("SELECT response_body FROM idempotency_keys")).scalars().all()
    assert raw
    assert all(secret not in value for value in raw)
    assert all(base64.b64encode(secret.encode()).decode()[:20] not in value for value in raw)
