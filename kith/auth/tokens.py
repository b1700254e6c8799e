"""Password hashing, JWT access tokens and opaque secrets (refresh, invite, API keys)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kith.db.types import utcnow
from kith.settings import Settings

API_KEY_PREFIX = "kith_"
_ALGORITHM = "HS256"


class Passwords:
    """argon2id hashing with the cost from settings."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
        )
        # Verified against when the user does not exist, so timing does not tell.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret; the only form such secrets are stored in."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


def issue_access_token(
    settings: Settings, *, user_id: uuid.UUID, organization_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[str, datetime]:
    now = utcnow()
    expires = now + timedelta(seconds=settings.access_token_ttl_seconds)
    claims = {
        "sub": str(user_id),
        "org": str(organization_id),
        "sid": str(session_id),
        "iss": settings.jwt_issuer,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, settings.resolved_secret_key, algorithm=_ALGORITHM), expires


def decode_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token, else None."""
    key = (settings.resolved_secret_key, settings.jwt_issuer, token)
    claims = _verified.get(key)
    if claims is None:
        claims = _verify_access_token(settings, token)
        if claims is None:
            return None
        _verified.put(key, claims)
    if claims.expires_at <= utcnow():
        return None
    return claims


def _verify_access_token(settings: Settings, token: str) -> AccessClaims | None:
    try:
        claims = jwt.decode(
            token,
            settings.resolved_secret_key,
            algorithms=[_ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "org", "sid", "exp", "typ"]},
        )
        if claims.get("typ") != "access":
            return None
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            organization_id=uuid.UUID(claims["org"]),
            session_id=uuid.UUID(claims["sid"]),
            expires_at=datetime.fromtimestamp(claims["exp"], tz=utcnow().tzinfo),
        )
    except (jwt.PyJWTError, ValueError, KeyError):
        return None


class _VerifiedTokens:
    """Access tokens whose signature was already checked, with their claims: a token
    is presented on every request of its 15 minutes, and PyJWT's checks cost about a
    quarter of a millisecond each time. Only the signature result is remembered; expiry
    is checked on every use and revocation lives in the session, not the token. Keyed
    by the signing secret too, so a token is never trusted under another key."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], AccessClaims] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> AccessClaims | None:
        return self._entries.get(key)

    def put(self, key: tuple[str, str, str], claims: AccessClaims) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                now = utcnow()
                self._entries = {k: c for k, c in self._entries.items() if c.expires_at > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = claims


_verified = _VerifiedTokens()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def client_identity(settings: Settings, authorization: str | None) -> str | None:
    """A stable id of the credential behind a request, without touching the database:
    ``user:<id>`` for a valid access token, ``key:<digest>`` for an API key.
    Used to key rate limits and idempotency records."""
    token = bearer_token(authorization)
    if token is None:
        return None
    if token.startswith(API_KEY_PREFIX):
        return "key:" + digest(token)[:32]
    claims = decode_access_token(settings, token)
    if claims is None:
        return None
    return f"user:{claims.organization_id}:{claims.user_id}"
