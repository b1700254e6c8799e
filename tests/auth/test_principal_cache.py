"""What a token resolves to is cached for a few seconds (KITH_AUTH_CACHE_SECONDS); a
change to the caller's teams or session through the API applies to the very next
request all the same (role changes and deactivation: tests/auth/test_members.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kith.auth.roles import Role
from tests.assertions import assert_envelope
from tests.factories import Factory

CONTACT = {"firstName": "Ada", "lastName": "Lovelace"}


def test_joining_a_team_widens_a_managers_view_at_once(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    manager = tenant.member(Role.SALES_MANAGER)
    rep = tenant.member(Role.SALES_REP)
    theirs = client.post("/api/v1/contacts", json=CONTACT, headers=rep.headers).json()
    path = f"/api/v1/contacts/{theirs['id']}"
    assert_envelope(client.get(path, headers=manager.headers), 404, "NOT_FOUND")  # cached now
    team = client.post("/api/v1/teams", json={"name": "EMEA"}, headers=tenant.admin.headers)
    team_id = team.json()["id"]
    for user_id in (manager.user_id, rep.user_id):
        added = client.put(
            f"/api/v1/teams/{team_id}/members/{user_id}", headers=tenant.admin.headers
        )
        assert added.status_code == 200
    assert client.get(path, headers=manager.headers).status_code == 200
    removed = client.delete(
        f"/api/v1/teams/{team_id}/members/{manager.user_id}", headers=tenant.admin.headers
    )
    assert removed.status_code == 200
    assert_envelope(client.get(path, headers=manager.headers), 404, "NOT_FOUND")


def test_logout_ends_the_session_at_once(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    member = tenant.member(Role.SALES_REP)
    assert client.get("/api/v1/users/me", headers=member.headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=member.headers).status_code in (200, 204)
    assert_envelope(client.get("/api/v1/users/me", headers=member.headers), 401)
