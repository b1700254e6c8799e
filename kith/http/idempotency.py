"""``Idempotency-Key`` for every POST.

Keys are scoped to the credential (which fixes the organization; the client IP for
anonymous requests) and the route, and kept for ``KITH_IDEMPOTENCY_TTL_SECONDS``.
Same key + same body replays the first response; same key + another body or query
string is 422 ``IDEMPOTENCY_KEY_REUSED``; the same key while the first request still
runs is 409. A claim whose request died (no answer within
``KITH_IDEMPOTENCY_LOCK_SECONDS``) can be taken over; a 5xx answer releases the key
so the client may retry.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import Integer, String, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kith.auth.tokens import client_identity
from kith.db.base import Base
from kith.db.engine import Database
from kith.db.types import Encrypted, JSONType, UTCDateTime, utcnow
from kith.http.errors import envelope
from kith.http.middleware import client_ip, header
from kith.settings import Settings

PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
_SKIP_HEADERS = {b"x-request-id", b"content-length", b"set-cookie"}


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    scope_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSONType)
    # Encrypted: a replayed answer may hold a secret shown once (API key, webhook secret).
    response_body: Mapped[str | None] = mapped_column(Encrypted())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class _Outcome:
    def __init__(self, kind: str, record: IdempotencyRecord | None = None) -> None:
        self.kind = kind  # proceed | replay | busy | mismatch
        self.record = record


class IdempotencyStore:
    def __init__(self, get_database: Callable[[], Database], settings: Settings) -> None:
        self.get_database = get_database
        self.ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
        self.lock = timedelta(seconds=settings.idempotency_lock_seconds)

    def claim(self, scope_hash: str, request_hash: str) -> _Outcome:
        database = self.get_database()
        now = utcnow()
        values = {
            "scope_hash": scope_hash,
            "request_hash": request_hash,
            "state": PROCESSING,
            "created_at": now,
            "locked_at": now,
            "expires_at": now + self.ttl,
        }
        insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
        with database.transaction() as session:
            # RETURNING, not rowcount: psycopg reports rowcount -1 for this statement.
            inserted = session.execute(
                insert(IdempotencyRecord)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(IdempotencyRecord.scope_hash)
            ).first()
            if inserted is not None:
                return _Outcome("proceed")
            record = session.execute(
                select(IdempotencyRecord)
                .where(IdempotencyRecord.scope_hash == scope_hash)
                .with_for_update()
            ).scalar_one()
            if record.expires_at <= now:
                for key, value in values.items():
                    setattr(record, key, value)
                return _Outcome("proceed")
            if record.request_hash != request_hash:
                return _Outcome("mismatch")
            if record.state == COMPLETED:
                session.expunge(record)
                return _Outcome("replay", record)
            if record.locked_at > now - self.lock:
                return _Outcome("busy")
            record.locked_at = now  # the first attempt died: take it over
            return _Outcome("proceed")

    def complete(self, scope_hash: str, status: int, headers: list[list[str]], body: bytes) -> None:
        with self.get_database().transaction(write=True) as session:
            record = session.get(IdempotencyRecord, scope_hash)
            if record is not None:
                record.state = COMPLETED
                record.status_code = status
                record.response_headers = headers
                record.response_body = base64.b64encode(body).decode()

    def release(self, scope_hash: str) -> None:
        with self.get_database().transaction() as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.scope_hash == scope_hash)
            )


def scope_hash(identity: str, path: str, key: str) -> str:
    """Where a key lives: the credential (which fixes the organization), route and key."""
    return hashlib.sha256(f"{identity}\x00{path}\x00{key}".encode()).hexdigest()


def request_hash(body: bytes, query_string: bytes = b"") -> str:
    """What a key was first used for: the query string and the body."""
    return hashlib.sha256(query_string + b"\x00" + body).hexdigest()


def purge_expired(database: Database) -> int:
    """Delete records past their time to live (run periodically)."""
    with database.transaction() as session:
        result = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, *, settings: Settings, get_database: Callable[[], Database]
    ) -> None:
        self.app = app
        self.settings = settings
        self.store = IdempotencyStore(get_database, settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not (1 <= len(key) <= 255) or not key.isprintable():
            await envelope(
                status=422,
                code="VALIDATION_ERROR",
                message="Idempotency-Key must be 1-255 printable characters.",
                path=path,
                details=[
                    {
                        "field": "Idempotency-Key",
                        "location": "header",
                        "message": "1-255 printable characters",
                    }
                ],
            )(scope, receive, send)
            return

        body = await _read_body(receive)
        # Without a credential, keys of different clients must not meet: scope by IP.
        identity = (
            client_identity(self.settings, header(scope, b"authorization"))
            or f"ip:{client_ip(scope)}"
        )
        where = scope_hash(identity, path, key)
        fingerprint = request_hash(body, scope.get("query_string", b""))
        outcome = await anyio.to_thread.run_sync(self.store.claim, where, fingerprint)

        if outcome.kind == "mismatch":
            await envelope(
                status=422,
                code="IDEMPOTENCY_KEY_REUSED",
                message="This Idempotency-Key was used with a different request body.",
                path=path,
            )(scope, receive, send)
            return
        if outcome.kind == "busy":
            await envelope(
                status=409,
                code="CONFLICT",
                message="A request with this Idempotency-Key is still being processed.",
                path=path,
                retry_after=1,
            )(scope, receive, send)
            return
        if outcome.kind == "replay" and outcome.record is not None:
            await _replay(outcome.record, send)
            return

        messages: list[Message] = []

        pending: list[bytes] = [body]

        async def replay_receive() -> Message:
            if pending:
                return {"type": "http.request", "body": pending.pop(), "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            with anyio.CancelScope(shield=True):  # release even when cancelled
                await anyio.to_thread.run_sync(self.store.release, where)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = int(start["status"]) if start else 500
        if status >= 500:
            await anyio.to_thread.run_sync(self.store.release, where)
        else:
            assert start is not None
            stored_headers = [
                [k.decode("latin-1"), v.decode("latin-1")]
                for k, v in start.get("headers", [])
                if k.lower() not in _SKIP_HEADERS
            ]
            payload = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            await anyio.to_thread.run_sync(
                self.store.complete, where, status, stored_headers, payload
            )
        for message in messages:
            await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _replay(record: IdempotencyRecord, send: Send) -> None:
    body = base64.b64decode(record.response_body or "")
    headers: list[Any] = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in (record.response_headers or [])
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((b"idempotent-replayed", b"true"))
    await send(
        {"type": "http.response.start", "status": record.status_code or 200, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})
