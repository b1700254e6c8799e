"""The transactional outbox: events written in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kith.db.base import Base, new_id
from kith.db.types import EncryptedJSON, UTCDateTime, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox"

    # Monotonic delivery order (per aggregate: order by seq).
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), default=new_id)
    event_type: Mapped[str] = mapped_column(String(64))
    aggregate_type: Mapped[str] = mapped_column(String(64))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    # Encrypted: payloads carry PII (and, for internal events, one-time secrets).
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    request_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("organization_id", "id", name="uq_outbox_org_id"),
        Index("ix_outbox_pending", "delivered_at", "seq"),
        Index("ix_outbox_aggregate", "organization_id", "aggregate_type", "aggregate_id", "seq"),
    )


class EventHandled(Base):
    """Marks that a handler applied an event (committed with the handler's effect)."""

    __tablename__ = "event_handled"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DispatcherLease(Base):
    """Who may dispatch the outbox right now (one dispatcher across all processes)."""

    __tablename__ = "dispatcher_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
