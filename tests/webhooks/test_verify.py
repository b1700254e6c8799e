"""Signing and verifying ``X-Kith-Signature``."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from kith.webhooks.verify import sign, verify_signature

SECRET = "whsec_test-secret"
BODY = b'{"id":"e1","type":"contact.created"}'
NOW = 1_700_000_000


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign(SECRET, BODY, NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature(SECRET, header, BODY, now=NOW + 300)
    assert verify_signature(SECRET, header, BODY, now=NOW - 300)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, NOW),  # wrong secret
        (SECRET, BODY + b" ", NOW),  # tampered body
        (SECRET, BODY, NOW + 301),  # stale (a replay)
        (SECRET, BODY, NOW - 301),  # from the future
    ],
)
def test_rejects_wrong_secret_tampering_and_stale_timestamps(
    secret: str, body: bytes, now: int
) -> None:
    assert not verify_signature(secret, sign(SECRET, BODY, NOW), body, now=now)


def test_tolerance_is_configurable() -> None:
    header = sign(SECRET, BODY, NOW)
    assert verify_signature(SECRET, header, BODY, now=NOW + 3000, tolerance_seconds=3600)
    assert not verify_signature(SECRET, header, BODY, now=NOW + 10, tolerance_seconds=5)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"t={NOW}",
        "v1=abc",
        f"t=abc,v1={'0' * 64}",
        f"t=\uff11\uff17,v1={'0' * 64}",  # full-width digits
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW},v1={'0' * 64}",
    ],
)
def test_rejects_malformed_headers(header: str | None) -> None:
    assert not verify_signature(SECRET, header, BODY, now=NOW)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = sign(SECRET, BODY, NOW).split("v1=")[1]
    assert verify_signature(SECRET, f"t={NOW}, v1={'0' * 64}, v1={good}", BODY, now=NOW)
