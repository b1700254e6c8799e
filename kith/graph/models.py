"""Tables of the relationship graph: relationships between people (contacts and
users), the per-organization version counter and change log that keep every
process's in-memory graph fresh, stored analytics, and introduction requests."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Enum,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from kith.db.base import Base, TenantMixin, TimestampMixin, VersionedMixin
from kith.db.types import Encrypted, JSONType, UTCDateTime, utcnow


class NodeKind(enum.StrEnum):
    CONTACT = "CONTACT"
    USER = "USER"


class RelationshipType(enum.StrEnum):
    COLLEAGUE = "COLLEAGUE"
    FRIEND = "FRIEND"
    FAMILY = "FAMILY"
    REPORTS_TO = "REPORTS_TO"
    INTRODUCED_BY = "INTRODUCED_BY"
    KNOWS = "KNOWS"
    BUSINESS_PARTNER = "BUSINESS_PARTNER"
    MENTOR = "MENTOR"
    CLIENT = "CLIENT"
    INVESTOR = "INVESTOR"
    ALUMNI = "ALUMNI"


# Types whose direction means something: "from REPORTS_TO to", "from INTRODUCED_BY
# to" (from was introduced by to), "from MENTOR to" (from mentors to). Paths are
# undirected either way: knowing is mutual.
DIRECTED_TYPES: frozenset[RelationshipType] = frozenset(
    {RelationshipType.REPORTS_TO, RelationshipType.INTRODUCED_BY, RelationshipType.MENTOR}
)


class RelationshipSource(enum.StrEnum):
    MANUAL = "MANUAL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    IMPORT = "IMPORT"
    INFERRED = "INFERRED"


class IntroductionStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    COMPLETED = "COMPLETED"


class AnalyticsStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


NodeKindType = Enum(NodeKind, name="graph_node_kind", native_enum=False, length=8)


class Relationship(TenantMixin, VersionedMixin, TimestampMixin, Base):
    """One declared or inferred tie between two people of an organization.

    ``low_id``/``high_id`` are the two endpoint ids in sorted order: one pair has
    at most one relationship per type whichever way it was entered."""

    __tablename__ = "graph_relationships"
    __label__ = "Relationship"

    from_kind: Mapped[NodeKind] = mapped_column(NodeKindType)
    from_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    to_kind: Mapped[NodeKind] = mapped_column(NodeKindType)
    to_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    low_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    high_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    type: Mapped[RelationshipType] = mapped_column(
        Enum(RelationshipType, name="graph_relationship_type", native_enum=False, length=24)
    )
    # Effective strength: the manual one when set, else the computed one.
    strength: Mapped[float] = mapped_column(Float, default=0.0)
    computed_strength: Mapped[float] = mapped_column(Float, default=0.0)
    manual_strength: Mapped[float | None] = mapped_column(Float)
    interaction_count: Mapped[int] = mapped_column(Integer, default=0)
    last_interaction: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[RelationshipSource] = mapped_column(
        Enum(RelationshipSource, name="graph_relationship_source", native_enum=False, length=16),
        default=RelationshipSource.MANUAL,
    )
    notes: Mapped[str | None] = mapped_column(Encrypted())
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        Index(
            "uq_graph_relationships_pair_type",
            "organization_id",
            "low_id",
            "high_id",
            "type",
            unique=True,
        ),
        Index("ix_graph_relationships_high", "organization_id", "high_id"),
        Index("ix_graph_relationships_from", "organization_id", "from_id"),
        Index("ix_graph_relationships_to", "organization_id", "to_id"),
        Index("ix_graph_relationships_strength", "organization_id", "strength", "id"),
    )


class GraphVersion(Base):
    """The organization's graph version: bumped in the same transaction as any
    change to its relationships, so any process knows whether its copy is current.
    ``log_floor``: changes at or below it were pruned from the change log."""

    __tablename__ = "graph_versions"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    log_floor: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    )


class GraphChange(Base):
    """One pair's new effective strength at ``version`` (NULL: the pair is gone), or,
    with no ``b_id``, a node removed from the graph."""

    __tablename__ = "graph_changes"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    a_kind: Mapped[NodeKind] = mapped_column(NodeKindType)
    a_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    b_kind: Mapped[NodeKind | None] = mapped_column(NodeKindType)
    b_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    strength: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnalyticsRun(TenantMixin, Base):
    """One computation of PageRank, betweenness and communities for an organization."""

    __tablename__ = "graph_analytics_runs"

    status: Mapped[AnalyticsStatus] = mapped_column(
        Enum(AnalyticsStatus, name="graph_analytics_status", native_enum=False, length=16),
        default=AnalyticsStatus.RUNNING,
    )
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    graph_version: Mapped[int] = mapped_column(BigInteger, default=0)
    nodes: Mapped[int] = mapped_column(Integer, default=0)
    edges: Mapped[int] = mapped_column(Integer, default=0)
    communities: Mapped[int] = mapped_column(Integer, default=0)
    modularity: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        Index("ix_graph_analytics_runs_finished", "organization_id", "status", "finished_at"),
    )


class NodeMetrics(Base):
    """Stored analytics of one node from the organization's latest finished run."""

    __tablename__ = "graph_node_metrics"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    node_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    node_kind: Mapped[NodeKind] = mapped_column(NodeKindType)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    pagerank: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float] = mapped_column(Float)
    degree: Mapped[int] = mapped_column(Integer)
    betweenness: Mapped[float] = mapped_column(Float)
    community: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        Index("ix_graph_node_metrics_community", "organization_id", "community", "pagerank"),
    )


class Community(TenantMixin, Base):
    """A community of the latest finished run, with its generated label."""

    __tablename__ = "graph_communities"
    __label__ = "Community"

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    number: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(300))
    top_companies: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    top_tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        Index("ix_graph_communities_number", "organization_id", "number", unique=True),
        Index("ix_graph_communities_size", "organization_id", "size", "id"),
    )


class Introduction(TenantMixin, VersionedMixin, TimestampMixin, Base):
    """A request to be introduced to ``target_id`` through an intermediary, addressed
    to the user who can make it (the intermediary contact's owner, or the
    intermediary user)."""

    __tablename__ = "graph_introductions"
    __label__ = "Introduction"

    requester_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    addressee_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    via_kind: Mapped[NodeKind] = mapped_column(NodeKindType)
    via_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    message: Mapped[str] = mapped_column(Encrypted())
    # The path the request was made along: [[kind, id], ...] and its strength.
    path: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    path_strength: Mapped[float | None] = mapped_column(Float)
    status: Mapped[IntroductionStatus] = mapped_column(
        Enum(IntroductionStatus, name="graph_introduction_status", native_enum=False, length=16),
        default=IntroductionStatus.REQUESTED,
    )
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declined_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    response_note: Mapped[str | None] = mapped_column(Encrypted())

    __table_args__ = (
        ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        Index("ix_graph_introductions_requester", "organization_id", "requester_id", "created_at"),
        Index("ix_graph_introductions_addressee", "organization_id", "addressee_id", "created_at"),
    )
