"""The append-only audit log: written with every change, guarded by the ORM and by
database triggers, readable by ADMINs of the same organization only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from kith.audit.models import AuditEntry
from kith.audit.service import REDACTED, AppendOnlyViolation, diff
from kith.auth.roles import Role
from tests.conftest import TransactionalDatabase
from tests.factories import Factory, Tenant


def _create_team(client: TestClient, tenant: Tenant, name: str = "EMEA sales") -> dict[str, Any]:
    response = client.post(
        "/api/v1/teams",
        json={"name": name, "description": "Europe"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "requestId": response.headers["x-request-id"]}


def _entries(client: TestClient, tenant: Tenant, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit-log", params=params, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_creating_a_team_writes_an_audit_entry_with_diff_and_actor(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    team = _create_team(client, tenant)

    (entry,) = _entries(client, tenant, entityType="team", entityId=team["id"])
    assert entry["action"] == "team.created"
    assert entry["entityType"] == "team"
    assert entry["entityId"] == team["id"]
    assert entry["actorType"] == "user"
    assert entry["actorId"] == str(tenant.admin.user_id)
    assert entry["changes"] == {"name": [None, "EMEA sales"], "description": [None, "Europe"]}
    assert entry["requestId"] == team["requestId"]
    assert entry["occurredAt"].endswith(("Z", "+00:00"))


def test_patch_records_before_and_after_of_changed_fields_only(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    team = _create_team(client, tenant)
    response = client.patch(
        f"/api/v1/teams/{team['id']}", json={"name": "EMEA"}, headers=tenant.admin.headers
    )
    assert response.status_code == 200, response.text

    entries = _entries(client, tenant, entityType="team", entityId=team["id"])
    assert [e["action"] for e in entries] == ["team.updated", "team.created"]  # newest first
    assert entries[0]["changes"] == {"name": ["EMEA sales", "EMEA"]}
    assert entries[0]["actorId"] == str(tenant.admin.user_id)

    only_updates = _entries(client, tenant, entityType="team", action="team.updated")
    assert [e["id"] for e in only_updates] == [entries[0]["id"]]


def test_audit_log_filters_by_entity(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    first, second = _create_team(client, tenant, "One"), _create_team(client, tenant, "Two")
    assert {e["entityId"] for e in _entries(client, tenant, entityType="team")} == {
        first["id"],
        second["id"],
    }
    assert [e["entityId"] for e in _entries(client, tenant, entityId=second["id"])] == [
        second["id"]
    ]
    assert _entries(client, tenant, entityType="contact") == []
    by_actor = _entries(client, tenant, actorId=str(tenant.admin.user_id))
    assert {e["entityId"] for e in by_actor} == {first["id"], second["id"]}


@pytest.mark.parametrize(
    "role", [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETING_MANAGER, Role.VIEWER]
)
def test_audit_log_is_admin_only(client: TestClient, factory: Factory, role: Role) -> None:
    tenant = factory.tenant()
    _create_team(client, tenant)
    member = tenant.member(role)
    response = client.get("/api/v1/audit-log", headers=member.headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert client.get("/api/v1/audit-log").status_code == 401


def test_another_organizations_entries_are_never_listed(
    client: TestClient, factory: Factory
) -> None:
    ours, theirs = factory.tenant(), factory.tenant()
    our_team = _create_team(client, ours, "Ours")
    their_team = _create_team(client, theirs, "Theirs")

    listed = _entries(client, ours, limit="100")
    assert our_team["id"] in {e["entityId"] for e in listed}
    assert their_team["id"] not in {e["entityId"] for e in listed}
    assert _entries(client, ours, entityId=their_team["id"]) == []
    assert _entries(client, ours, actorId=str(theirs.admin.user_id)) == []


def _stored_entry(db: TransactionalDatabase, client: TestClient, factory: Factory) -> AuditEntry:
    tenant = factory.tenant()
    team = _create_team(client, tenant)
    with db.transaction() as session:
        return session.execute(
            select(AuditEntry).where(AuditEntry.entity_id == team["id"])
        ).scalar_one()


def test_orm_refuses_to_update_an_audit_entry(
    db: TransactionalDatabase, client: TestClient, factory: Factory
) -> None:
    entry = _stored_entry(db, client, factory)
    key = (entry.organization_id, entry.id)

    def forge() -> None:
        with db.transaction() as session:
            loaded = session.get(AuditEntry, key)
            assert loaded is not None
            loaded.action = "team.forged"
            session.flush()

    with pytest.raises(AppendOnlyViolation):
        forge()
    with db.transaction() as session:
        stored = session.get(AuditEntry, key)
        assert stored is not None
        assert stored.action == "team.created"


def test_orm_refuses_to_delete_an_audit_entry(
    db: TransactionalDatabase, client: TestClient, factory: Factory
) -> None:
    entry = _stored_entry(db, client, factory)
    key = (entry.organization_id, entry.id)

    def erase() -> None:
        with db.transaction() as session:
            session.delete(session.get(AuditEntry, key))
            session.flush()

    with pytest.raises(AppendOnlyViolation):
        erase()
    with db.transaction() as session:
        assert session.get(AuditEntry, key) is not None


def test_loading_an_entry_without_changing_it_is_fine(
    db: TransactionalDatabase, client: TestClient, factory: Factory
) -> None:
    entry = _stored_entry(db, client, factory)
    with db.transaction() as session:
        loaded = session.get(AuditEntry, (entry.organization_id, entry.id))
        assert loaded is not None
        loaded.action = loaded.action  # a no-op assignment is not a modification
        session.flush()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "UPDATE audit_log SET changes = '{}'",
        "DELETE FROM audit_log",
    ],
)
def test_database_trigger_refuses_raw_update_and_delete(
    db: TransactionalDatabase, client: TestClient, factory: Factory, statement: str
) -> None:
    entry = _stored_entry(db, client, factory)
    with pytest.raises(DBAPIError, match="append-only"), db.connection.begin_nested():
        db.connection.execute(text(statement))
    # The entry is untouched and the connection still usable.
    with db.transaction() as session:
        stored = session.get(AuditEntry, (entry.organization_id, entry.id))
        assert stored is not None
        assert stored.action == "team.created"


def test_database_trigger_refuses_orm_bulk_statements(
    db: TransactionalDatabase, client: TestClient, factory: Factory
) -> None:
    """Bulk UPDATE/DELETE skip the ORM flush guard; the trigger still stops them."""
    _stored_entry(db, client, factory)
    for statement in (update(AuditEntry).values(action="forged"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
            session.execute(statement)


def test_diff_lists_changed_fields_and_redacts_secrets() -> None:
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b": [2, 3], "c": [None, 4]}
    assert diff(None, {"name": "x"}) == {"name": [None, "x"]}
    assert diff({"name": "x"}, None) == {"name": ["x", None]}
    assert diff({"password": "old"}, {"password": "new"}, redact=frozenset({"password"})) == {
        "password": [REDACTED, REDACTED]
    }
    assert diff({"same": 1}, {"same": 1}) == {}
