"""Webhook tables: subscriptions and their deliveries (with the dead-letter state)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from kith.db.base import Base, TimestampMixin, VersionedMixin, new_id
from kith.db.types import Encrypted, EncryptedJSON, JSONType, UTCDateTime, utcnow


class DeliveryState(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # dead letter: gave up after KITH_WEBHOOK_MAX_ATTEMPTS


class WebhookSubscription(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "webhook_subscriptions"
    __label__ = "Webhook"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    # Empty: every public event.
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret: Mapped[str] = mapped_column(Encrypted())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(Base):
    """One event to one subscription: every attempt updates the same row."""

    __tablename__ = "webhook_deliveries"
    __label__ = "Delivery"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    event_type: Mapped[str] = mapped_column(String(64))
    # The event envelope as sent; encrypted like the outbox payload (it carries PII).
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    state: Mapped[DeliveryState] = mapped_column(
        Enum(DeliveryState, name="webhook_delivery_state", native_enum=False, length=16),
        default=DeliveryState.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # PENDING: when the next attempt is due (a short lease while one is in flight).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The last attempt: {url, headers, body (truncated)} and {status, headers, body}.
    request: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    response: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "subscription_id"],
            ["webhook_subscriptions.organization_id", "webhook_subscriptions.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("organization_id", "subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index(
            "ix_webhook_deliveries_subscription", "organization_id", "subscription_id", "created_at"
        ),
    )
