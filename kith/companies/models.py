"""Companies and the email domains that link contacts to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kith.db.base import Base, TenantMixin, TimestampMixin, VersionedMixin
from kith.db.types import JSONType, UTCDateTime


class Company(TenantMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "companies"
    __label__ = "Company"

    name: Mapped[str] = mapped_column(String(200))
    # Case-folded name: exact lookups when a contact names its company.
    name_key: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253))
    industry: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    links: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        Index("ix_companies_name_key", "organization_id", "name_key"),
    )


class CompanyDomain(Base):
    """Email domains of a company (free-mail domains never appear here)."""

    __tablename__ = "company_domains"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid())

    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "company_id"],
            ["companies.organization_id", "companies.id"],
            ondelete="CASCADE",
        ),
        Index("ix_company_domains_company", "organization_id", "company_id"),
    )
