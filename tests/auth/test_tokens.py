"""Access tokens: a verified token's signature is remembered for its lifetime (it is
presented on every request), but never its validity beyond that."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from kith.auth import tokens
from kith.auth.tokens import decode_access_token, issue_access_token
from kith.settings import Settings


def _settings(secret: str) -> Settings:
    return Settings(env="test", secret_key=secret, access_token_ttl_seconds=900)


def _token(settings: Settings) -> str:
    token, _ = issue_access_token(
        settings, user_id=uuid.uuid4(), organization_id=uuid.uuid4(), session_id=uuid.uuid4()
    )
    return token


def test_a_token_is_refused_once_it_expires_although_it_was_verified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings("s" * 40)
    token = _token(settings)
    claims = decode_access_token(settings, token)
    assert claims is not None
    later = claims.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)
    assert decode_access_token(settings, token) is None


def test_a_token_verified_under_one_key_is_not_trusted_under_another() -> None:
    first, second = _settings("a" * 40), _settings("b" * 40)
    token = _token(first)
    assert decode_access_token(first, token) is not None
    assert decode_access_token(second, token) is None


def test_a_tampered_token_is_refused() -> None:
    settings = _settings("c" * 40)
    token = _token(settings)
    assert decode_access_token(settings, token) is not None
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": str(uuid.uuid4())}, "x" * 40, algorithm="HS256")
    assert decode_access_token(settings, forged) is None
    header, payload, signature = token.split(".")
    assert decode_access_token(settings, f"{header}.{payload}.{signature[::-1]}") is None


@pytest.mark.parametrize("typ", ["refresh", "invite"])
def test_a_token_of_another_type_is_refused(typ: str) -> None:
    settings = _settings("d" * 40)
    claims = jwt.decode(_token(settings), options={"verify_signature": False})
    other = jwt.encode({**claims, "typ": typ}, "d" * 40, algorithm="HS256")
    assert decode_access_token(settings, other) is None
