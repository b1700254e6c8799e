"""Signup, login, refresh rotation and reuse detection, logout, throttling."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kith.auth.models import AuthSession, User
from tests.assertions import assert_envelope
from tests.factories import DEFAULT_PASSWORD, Factory

SIGNUP = {
    "organizationName": "Acme",
    "email": "Ada@Acme.example",
    "password": "correct horse battery",
    "name": "Ada Lovelace",
}


def test_signup_login_refresh_rotation_and_reuse_revokes_family(client: TestClient) -> None:
    signup = client.post("/api/v1/auth/signup", json=SIGNUP)
    assert signup.status_code == 201, signup.text
    body = signup.json()
    assert body["user"]["email"] == "ada@acme.example"
    assert body["user"]["role"] == "ADMIN"
    assert body["organization"]["name"] == "Acme"
    assert body["user"]["organizationId"] == body["organization"]["id"]

    login = client.post(
        "/api/v1/auth/login", json={"email": "ada@acme.example", "password": SIGNUP["password"]}
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    auth = {"Authorization": f"Bearer {tokens['accessToken']}"}

    me = client.get("/api/v1/users/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]

    first = client.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refreshToken"] != tokens["refreshToken"]

    # The spent token comes back: rejected, and the whole family is revoked.
    reuse = client.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert_envelope(reuse, 401, "REFRESH_TOKEN_REUSED")
    newest = client.post("/api/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    assert_envelope(newest, 401, "SESSION_REVOKED")
    stale_access = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {rotated['accessToken']}"}
    )
    assert_envelope(stale_access, 401)
    # The signup session is a different family and still works.
    other = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {body['accessToken']}"}
    )
    assert other.status_code == 200


def test_wrong_password_is_401_envelope(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    response = client.post(
        "/api/v1/auth/login", json={"email": tenant.admin.email, "password": "wrong password"}
    )
    error = assert_envelope(response, 401, "INVALID_CREDENTIALS")
    assert error["path"] == "/api/v1/auth/login"
    unknown = client.post(
        "/api/v1/auth/login", json={"email": "nobody@acme.example", "password": "whatever1"}
    )
    assert_envelope(unknown, 401, "INVALID_CREDENTIALS")


def test_sixth_failed_login_in_a_minute_is_429_with_retry_after(
    client: TestClient, factory: Factory
) -> None:
    tenant = factory.tenant()
    for _ in range(5):
        response = client.post(
            "/api/v1/auth/login", json={"email": tenant.admin.email, "password": "bad password"}
        )
        assert response.status_code == 401
    blocked = client.post(
        "/api/v1/auth/login", json={"email": tenant.admin.email, "password": DEFAULT_PASSWORD}
    )
    error = assert_envelope(blocked, 429, "RATE_LIMIT_EXCEEDED")
    assert error
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert blocked.json()["meta"]["retryAfter"] == retry_after


def test_logout_ends_the_session(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    assert client.get("/api/v1/users/me", headers=tenant.admin.headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=tenant.admin.headers).status_code == 204
    assert_envelope(client.get("/api/v1/users/me", headers=tenant.admin.headers), 401)


def test_signup_with_taken_email_is_409_and_writes_nothing(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/auth/signup", json=SIGNUP).status_code == 201
    with db.transaction() as session:
        users = session.execute(select(func.count()).select_from(User)).scalar_one()
        sessions = session.execute(select(func.count()).select_from(AuthSession)).scalar_one()
    again = client.post("/api/v1/auth/signup", json={**SIGNUP, "organizationName": "Other"})
    assert_envelope(again, 409, "EMAIL_TAKEN")
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() == users
        assert (
            session.execute(select(func.count()).select_from(AuthSession)).scalar_one() == sessions
        )


def test_missing_or_garbage_token_is_401(client: TestClient) -> None:
    assert_envelope(client.get("/api/v1/users/me"), 401, "UNAUTHORIZED")
    garbage = client.get("/api/v1/users/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert_envelope(garbage, 401, "INVALID_TOKEN")
