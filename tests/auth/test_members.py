"""Users, invites, deactivation, teams and API keys through the API, per role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kith.auth.roles import Role
from tests.assertions import assert_envelope
from tests.factories import DEFAULT_PASSWORD, Factory


def test_admin_creates_user_with_password_who_can_sign_in(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    created = client.post(
        "/api/v1/users",
        json={
            "email": "Rep@Acme.example",
            "name": "Rep",
            "role": "SALES_REP",
            "password": "rep password 1",
        },
        headers=tenant.admin.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "rep@acme.example"
    assert body["status"] == "ACTIVE"
    assert body["inviteUrl"] is None
    login = client.post(
        "/api/v1/auth/login", json={"email": "rep@acme.example", "password": "rep password 1"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "SALES_REP"


def test_invite_is_single_use_and_activates_the_member(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    created = client.post(
        "/api/v1/users",
        json={"email": "new@acme.example", "name": "New", "role": "VIEWER"},
        headers=tenant.admin.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "INVITED"
    token = created.json()["inviteUrl"].split("token=")[1]
    # Not active yet: cannot sign in.
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "new@acme.example", "password": "anything123"}
        ).status_code
        == 401
    )
    accepted = client.post(
        "/api/v1/auth/accept-invite", json={"token": token, "password": "my new password"}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["user"]["status"] == "ACTIVE"
    again = client.post(
        "/api/v1/auth/accept-invite", json={"token": token, "password": "my new password"}
    )
    assert_envelope(again, 401, "INVALID_INVITE")
    login = client.post(
        "/api/v1/auth/login", json={"email": "new@acme.example", "password": "my new password"}
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    "role", [Role.SALES_MANAGER, Role.SALES_REP, Role.MARKETING_MANAGER, Role.VIEWER]
)
def test_only_admins_manage_people_teams_and_keys(
    client: TestClient, factory: Factory, role: Role
) -> None:
    tenant = factory.tenant()
    member = tenant.member(role)
    team_id = tenant.team(tenant.admin)
    h = member.headers
    forbidden = [
        client.post(
            "/api/v1/users",
            json={"email": "x@acme.example", "name": "X", "role": "VIEWER"},
            headers=h,
        ),
        client.patch(f"/api/v1/users/{tenant.admin.user_id}", json={"role": "VIEWER"}, headers=h),
        client.delete(f"/api/v1/users/{tenant.admin.user_id}", headers=h),
        client.post("/api/v1/teams", json={"name": "T"}, headers=h),
        client.patch(f"/api/v1/teams/{team_id}", json={"name": "T2"}, headers=h),
        client.delete(f"/api/v1/teams/{team_id}", headers=h),
        client.post("/api/v1/api-keys", json={"name": "k", "role": "ADMIN"}, headers=h),
        client.get("/api/v1/api-keys", headers=h),
        client.get("/api/v1/audit-log", headers=h),
    ]
    for response in forbidden:
        assert_envelope(response, 403, "FORBIDDEN")
    # Everyone may read the directory.
    assert client.get("/api/v1/users", headers=h).json()["totalCount"] == 2
    assert client.get(f"/api/v1/teams/{team_id}", headers=h).status_code == 200


def test_role_change_applies_to_the_next_request(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    member = tenant.member(Role.VIEWER)
    assert (
        client.post("/api/v1/teams", json={"name": "T"}, headers=member.headers).status_code == 403
    )
    promoted = client.patch(
        f"/api/v1/users/{member.user_id}", json={"role": "ADMIN"}, headers=tenant.admin.headers
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "ADMIN"
    assert (
        client.post("/api/v1/teams", json={"name": "T"}, headers=member.headers).status_code == 201
    )


def test_deactivated_user_is_locked_out_at_once(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    member = tenant.member(Role.SALES_REP)
    assert client.get("/api/v1/users/me", headers=member.headers).status_code == 200
    gone = client.delete(f"/api/v1/users/{member.user_id}", headers=tenant.admin.headers)
    assert gone.status_code == 204
    assert_envelope(client.get("/api/v1/users/me", headers=member.headers), 401)
    login = client.post(
        "/api/v1/auth/login", json={"email": member.email, "password": DEFAULT_PASSWORD}
    )
    assert_envelope(login, 401, "INVALID_CREDENTIALS")
    listed = client.get(f"/api/v1/users/{member.user_id}", headers=tenant.admin.headers)
    assert listed.json()["status"] == "DEACTIVATED"


def test_the_last_admin_cannot_be_removed_or_demoted(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    admin_id = tenant.admin.user_id
    h = tenant.admin.headers
    assert_envelope(client.delete(f"/api/v1/users/{admin_id}", headers=h), 409, "LAST_ADMIN")
    demote = client.patch(f"/api/v1/users/{admin_id}", json={"role": "VIEWER"}, headers=h)
    assert_envelope(demote, 409, "LAST_ADMIN")
    assert client.get("/api/v1/users/me", headers=h).json()["role"] == "ADMIN"


def test_writable_fields_are_an_allow_list(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    member = tenant.member(Role.SALES_REP)
    escalate = client.patch("/api/v1/users/me", json={"role": "ADMIN"}, headers=member.headers)
    assert_envelope(escalate, 422, "VALIDATION_ERROR")
    move = client.patch(
        "/api/v1/users/me",
        json={"organizationId": str(tenant.organization_id)},
        headers=member.headers,
    )
    assert_envelope(move, 422, "VALIDATION_ERROR")
    assert client.get("/api/v1/users/me", headers=member.headers).json()["role"] == "SALES_REP"


def test_password_change_needs_the_current_password(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    wrong = client.patch(
        "/api/v1/users/me",
        json={"password": "brand new pass", "currentPassword": "nope"},
        headers=h,
    )
    assert_envelope(wrong, 422, "VALIDATION_ERROR")
    ok = client.patch(
        "/api/v1/users/me",
        json={"password": "brand new pass", "currentPassword": DEFAULT_PASSWORD},
        headers=h,
    )
    assert ok.status_code == 200
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": tenant.admin.email, "password": "brand new pass"}
        ).status_code
        == 200
    )


def test_team_membership_round_trip(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    rep = tenant.member(Role.SALES_REP)
    team = client.post("/api/v1/teams", json={"name": "EMEA"}, headers=h).json()
    added = client.put(f"/api/v1/teams/{team['id']}/members/{rep.user_id}", headers=h)
    assert added.status_code == 200
    assert added.json()["memberIds"] == [str(rep.user_id)]
    assert client.get("/api/v1/users/me", headers=rep.headers).json()["teamIds"] == [team["id"]]
    removed = client.delete(f"/api/v1/teams/{team['id']}/members/{rep.user_id}", headers=h)
    assert removed.json()["memberIds"] == []
    assert client.delete(f"/api/v1/teams/{team['id']}", headers=h).status_code == 204
    assert_envelope(client.get(f"/api/v1/teams/{team['id']}", headers=h), 404, "NOT_FOUND")


def test_api_key_shown_once_acts_with_its_role_and_dies_when_revoked(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    h = tenant.admin.headers
    created = client.post("/api/v1/api-keys", json={"name": "ci", "role": "VIEWER"}, headers=h)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("kith_")
    listed = client.get("/api/v1/api-keys", headers=h).json()["data"]
    assert [k["id"] for k in listed] == [created.json()["id"]]
    assert "key" not in listed[0]
    as_key = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/users", headers=as_key).status_code == 200
    assert_envelope(client.post("/api/v1/teams", json={"name": "T"}, headers=as_key), 403)
    assert client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=h).status_code == 204
    assert_envelope(client.get("/api/v1/users", headers=as_key), 401, "INVALID_API_KEY")
