"""TOTP enrolment, sign-in with a code or a recovery code, replay refusal, disable."""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient

from tests.assertions import assert_envelope
from tests.factories import DEFAULT_PASSWORD, Factory


def _login(client: TestClient, email: str, otp: str | None = None):  # type: ignore[no-untyped-def]
    body = {"email": email, "password": DEFAULT_PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return client.post("/api/v1/auth/login", json=body)


def test_mfa_enrol_verify_login_recovery_and_disable(client: TestClient, factory: Factory) -> None:
    tenant = factory.tenant()
    h, email = tenant.admin.headers, tenant.admin.email
    enrol = client.post("/api/v1/auth/mfa/enroll", headers=h)
    assert enrol.status_code == 200
    secret = enrol.json()["secret"]
    assert enrol.json()["otpauthUri"].startswith("otpauth://totp/")
    # Enrolment is not enforced until verified.
    assert _login(client, email).status_code == 200

    bad = client.post("/api/v1/auth/mfa/verify", json={"code": "000000"}, headers=h)
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    totp = pyotp.TOTP(secret)
    used = totp.now()
    verified = client.post("/api/v1/auth/mfa/verify", json={"code": used}, headers=h)
    assert verified.status_code == 200, verified.text
    codes = verified.json()["recoveryCodes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10

    assert_envelope(_login(client, email), 401, "MFA_REQUIRED")
    assert_envelope(_login(client, email, "123456"), 401, "INVALID_OTP")
    # The code used for verification cannot be replayed (the very code: a fresh
    # ``totp.now()`` could belong to the next 30 s step on a slow machine).
    assert_envelope(_login(client, email, used), 401, "INVALID_OTP")

    with_recovery = _login(client, email, codes[0])
    assert with_recovery.status_code == 200, with_recovery.text
    assert_envelope(_login(client, email, codes[0]), 401, "INVALID_OTP")  # single use

    fresh = {"Authorization": f"Bearer {with_recovery.json()['accessToken']}"}
    disabled = client.post("/api/v1/auth/mfa/disable", json={"code": codes[1]}, headers=fresh)
    assert disabled.status_code == 200
    assert disabled.json() == {"enabled": False}
    assert _login(client, email).status_code == 200
