"""Contact tables. Phones, addresses, birthdays and sensitive custom fields are
encrypted at rest; phone lookups go through an HMAC blind index."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from kith.auth.scoping import OwnedMixin
from kith.db.base import Base, TenantMixin, TimestampMixin, VersionedMixin, new_id
from kith.db.types import Encrypted, EncryptedJSON, JSONType, UTCDateTime, utcnow


class ContactStatus(enum.StrEnum):
    LEAD = "LEAD"
    PROSPECT = "PROSPECT"
    CUSTOMER = "CUSTOMER"
    INACTIVE = "INACTIVE"


StatusType = Enum(ContactStatus, name="contact_status", native_enum=False, length=16)


class Contact(TenantMixin, OwnedMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "contacts"
    __label__ = "Contact"

    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    full_name: Mapped[str] = mapped_column(String(201), default="")
    # Case-folded "last first": the name sort, and a stable index for it.
    sort_name: Mapped[str] = mapped_column(String(201), default="")
    email: Mapped[str | None] = mapped_column(String(320))  # the primary email
    phone: Mapped[str | None] = mapped_column(Encrypted())  # the primary phone (E.164)
    company_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    company_name: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ContactStatus] = mapped_column(StatusType, default=ContactStatus.LEAD)
    lead_score: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sensitive_fields: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    addresses: Mapped[list[dict[str, Any]] | None] = mapped_column(EncryptedJSON())
    birthday: Mapped[str | None] = mapped_column(Encrypted())
    social_profiles: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    last_contact_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["organization_id", "company_id"],
            ["companies.organization_id", "companies.id"],
            name="fk_contacts_company",
        ),
        Index("ix_contacts_org_created", "organization_id", "created_at", "id"),
        Index("ix_contacts_org_updated", "organization_id", "updated_at", "id"),
        Index("ix_contacts_org_score", "organization_id", "lead_score", "id"),
        Index("ix_contacts_org_last_contact", "organization_id", "last_contact_date", "id"),
        Index("ix_contacts_org_company", "organization_id", "company_id"),
        # Lists by name (the default order; the id is the keyset tiebreaker): alone, by
        # status, by owner (SALES_REP scope, ownerId filter). ``deleted_at`` is a key
        # column, not a partial-index condition, so SQLite finds every filtered column
        # in the index and reads no table row until the page is found (migration 0007).
        Index("ix_contacts_list_name", "organization_id", "deleted_at", "sort_name", "id"),
        Index(
            "ix_contacts_list_status", "organization_id", "status", "deleted_at", "sort_name", "id"
        ),
        Index(
            "ix_contacts_list_owner", "organization_id", "owner_id", "deleted_at", "sort_name", "id"
        ),
    )


class ContactEmail(Base):
    __tablename__ = "contact_emails"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    label: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    # False while the contact is deleted: only live contacts count as duplicates.
    live: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "contact_id"],
            ["contacts.organization_id", "contacts.id"],
            ondelete="CASCADE",
        ),
        Index("ix_contact_emails_lookup", "organization_id", "email", "live"),
    )


class ContactPhone(Base):
    __tablename__ = "contact_phones"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(Encrypted())
    # HMAC of the E.164 number: equality lookups without decrypting.
    number_index: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    live: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "contact_id"],
            ["contacts.organization_id", "contacts.id"],
            ondelete="CASCADE",
        ),
        Index("ix_contact_phones_lookup", "organization_id", "number_index", "live"),
    )


class ContactTag(Base):
    __tablename__ = "contact_tags"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)  # case-folded
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "contact_id"],
            ["contacts.organization_id", "contacts.id"],
            ondelete="CASCADE",
        ),
    )


class ContactStatusChange(Base):
    __tablename__ = "contact_status_changes"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    from_status: Mapped[ContactStatus | None] = mapped_column(StatusType)
    to_status: Mapped[ContactStatus] = mapped_column(StatusType)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "contact_id"],
            ["contacts.organization_id", "contacts.id"],
            ondelete="CASCADE",
        ),
        Index("ix_contact_status_changes_contact", "organization_id", "contact_id", "changed_at"),
    )


class CustomFieldDefinitionRow(TimestampMixin, Base):
    __tablename__ = "custom_field_definitions"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[str]] = mapped_column(JSONType, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    )


class ContactMerge(Base):
    """A merge and everything needed to undo it exactly."""

    __tablename__ = "contact_merges"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)
    primary_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    duplicate_ids: Mapped[list[str]] = mapped_column(JSONType)
    # Rows of the contacts (and their emails, phones, tags) before the merge.
    snapshot: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    # What each registered reference moved: {reference name: [moved row keys]}.
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())

    __table_args__ = (
        Index("ix_contact_merges_primary", "organization_id", "primary_id", "created_at"),
    )


class DuplicateStatus(enum.StrEnum):
    OPEN = "OPEN"
    DISMISSED = "DISMISSED"
    MERGED = "MERGED"


class DuplicatePair(Base):
    """A suspected pair in the review queue; ``contact_a`` < ``contact_b``."""

    __tablename__ = "duplicate_pairs"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=new_id)
    contact_a: Mapped[uuid.UUID] = mapped_column(Uuid())
    contact_b: Mapped[uuid.UUID] = mapped_column(Uuid())
    score: Mapped[float] = mapped_column()
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[DuplicateStatus] = mapped_column(
        Enum(DuplicateStatus, name="duplicate_status", native_enum=False, length=16),
        default=DuplicateStatus.OPEN,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())

    __table_args__ = (
        Index("uq_duplicate_pairs_pair", "organization_id", "contact_a", "contact_b", unique=True),
        Index("ix_duplicate_pairs_open", "organization_id", "status", "score"),
        Index("ix_duplicate_pairs_b", "organization_id", "contact_b"),
    )


class BlockingKey(Base):
    """Blocking keys of live contacts: the candidates the match model scores."""

    __tablename__ = "contact_blocking_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "contact_id"],
            ["contacts.organization_id", "contacts.id"],
            ondelete="CASCADE",
        ),
        Index("ix_blocking_keys_contact", "organization_id", "contact_id"),
    )


class MatchModelRow(Base):
    """An organization's trained match model (JSON of kith.contacts.dedupe.model)."""

    __tablename__ = "match_models"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    model: Mapped[dict[str, Any]] = mapped_column(JSONType)
    trained_on: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
