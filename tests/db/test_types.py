"""Column types: Encrypted/EncryptedJSON keep no plaintext at rest, UTCDateTime is
timezone-aware UTC on every backend."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from kith import crypto
from kith.auth.models import User
from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.db.types import jsonable
from kith.events.models import OutboxEvent
from kith.events.outbox import publish
from tests.conftest import TransactionalDatabase

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _user(db: TransactionalDatabase, **values: object) -> uuid.UUID:
    email = f"types-{uuid.uuid4().hex[:8]}@acme.example"
    with db.transaction() as session:
        user = User(email=email, name="Types", **values)
        session.add(user)
        session.flush()
        return user.id


def _raw_user_column(db: TransactionalDatabase, user_id: uuid.UUID, column: str) -> object:
    # Plain SQL on the test's connection: what is really stored, no type processing.
    email = db.connection.execute(select(User.email).where(User.id == user_id)).scalar_one()
    return db.connection.execute(
        text(f"SELECT {column} FROM users WHERE email = :email"), {"email": email}
    ).scalar_one()


def test_encrypted_column_stores_no_plaintext_and_round_trips(db: TransactionalDatabase) -> None:
    user_id = _user(db, mfa_secret=TOTP_SECRET)

    raw = _raw_user_column(db, user_id, "mfa_secret")
    assert isinstance(raw, str)
    assert TOTP_SECRET not in raw
    assert raw.startswith(f"{crypto.keyring().current_key_id}:")
    assert crypto.keyring().decrypt(raw) == TOTP_SECRET

    with db.transaction() as session:
        assert session.get(User, user_id).mfa_secret == TOTP_SECRET  # type: ignore[union-attr]


def test_encrypted_column_keeps_null_as_null(db: TransactionalDatabase) -> None:
    user_id = _user(db, mfa_secret=None)
    assert _raw_user_column(db, user_id, "mfa_secret") is None
    with db.transaction() as session:
        assert session.get(User, user_id).mfa_secret is None  # type: ignore[union-attr]


def test_values_written_with_an_older_key_still_read(db: TransactionalDatabase) -> None:
    user_id = _user(db)
    ring = crypto.keyring()
    old_only = crypto.Keyring({"old": ring.keys["old"]}, ring.blind_key)
    email = db.connection.execute(select(User.email).where(User.id == user_id)).scalar_one()
    db.connection.execute(
        text("UPDATE users SET mfa_secret = :value WHERE email = :email"),
        {"value": old_only.encrypt(TOTP_SECRET), "email": email},
    )
    with db.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.mfa_secret == TOTP_SECRET
    assert ring.needs_rotation(str(_raw_user_column(db, user_id, "mfa_secret")))


def test_encrypted_json_stores_no_plaintext_and_round_trips(db: TransactionalDatabase) -> None:
    principal = Principal(uuid.uuid4(), uuid.uuid4(), Role.ADMIN)
    aggregate_id = uuid.uuid4()
    payload = {
        "email": "ada@acme.example",
        "phones": ["+44 20 7946 0958"],
        "address": {"city": "Zürich", "street": "Bahnhofstrasse 1"},
        "score": 42,
        "vip": True,
        "note": None,
    }
    with db.transaction() as session:
        publish(
            session,
            principal,
            "contact.created",
            aggregate_type="contact",
            aggregate_id=aggregate_id,
            payload=payload,
        )

    raw = db.connection.execute(
        text("SELECT payload FROM outbox WHERE aggregate_id = :aid"), {"aid": str(aggregate_id)}
    ).scalar_one()
    assert isinstance(raw, str)
    for secret in ("ada@acme.example", "7946", "Zürich", "Bahnhofstrasse", "email"):
        assert secret not in raw

    with db.transaction() as session:
        event = session.execute(
            select(OutboxEvent).where(OutboxEvent.aggregate_id == str(aggregate_id))
        ).scalar_one()
        assert event.payload == payload


def test_utc_datetime_returns_aware_utc_for_any_input_offset(
    db: TransactionalDatabase, is_postgres: bool
) -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    written = datetime(2024, 3, 1, 9, 15, 30, 123456, tzinfo=ist)
    user_id = _user(db, last_login_at=written)
    if is_postgres:
        # A connection in another time zone must not change what the app reads.
        db.connection.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))

    with db.transaction() as session:
        read = session.execute(select(User.last_login_at).where(User.id == user_id)).scalar_one()
    assert read is not None
    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)
    assert read == written
    assert read == datetime(2024, 3, 1, 3, 45, 30, 123456, tzinfo=UTC)

    raw = _raw_user_column(db, user_id, "last_login_at")
    if is_postgres:
        assert isinstance(raw, datetime)
        assert raw == written  # timestamptz: the same instant
    else:
        assert str(raw).startswith("2024-03-01 03:45:30.123456")  # naive UTC text


def test_utc_datetime_filters_and_orders_across_offsets(db: TransactionalDatabase) -> None:
    base = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    early = _user(db, last_login_at=base)
    late = _user(db, last_login_at=(base + timedelta(minutes=1)).astimezone(plus_two))
    with db.transaction() as session:
        found = session.execute(
            select(User.id)
            .where(User.id.in_([early, late]))
            .where(User.last_login_at > base.astimezone(plus_two))
        ).scalars()
        assert list(found) == [late]
        ordered = session.execute(
            select(User.id).where(User.id.in_([early, late])).order_by(User.last_login_at)
        ).scalars()
        assert list(ordered) == [early, late]


def test_utc_datetime_refuses_naive_datetimes(db: TransactionalDatabase) -> None:
    def write_naive() -> None:
        with db.transaction() as session:
            naive = datetime.now()
            session.add(User(email="naive@acme.example", name="Naive", last_login_at=naive))
            session.flush()

    with pytest.raises(StatementError, match="naive datetime"):
        write_naive()
    # Nothing was written.
    assert (
        db.connection.execute(select(User.id).where(User.email == "naive@acme.example")).first()
        is None
    )


def test_timestamp_mixin_defaults_are_aware_utc(db: TransactionalDatabase) -> None:
    user_id = _user(db)
    with db.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expire(user)
        assert user.created_at.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - user.created_at) < timedelta(minutes=5)


class Colour(Enum):
    RED = "RED"


def test_jsonable_turns_ids_dates_and_enums_into_plain_json() -> None:
    ident = uuid.uuid4()
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert jsonable(
        {"id": ident, "at": moment, "on": date(2024, 1, 2), "c": Colour.RED, 1: ({ident},)}
    ) == {
        "id": str(ident),
        "at": "2024-01-02T03:04:05+00:00",
        "on": "2024-01-02",
        "c": "RED",
        "1": [[str(ident)]],
    }
