"""API shapes of the graph (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from kith.graph.models import (
    IntroductionStatus,
    NodeKind,
    RelationshipSource,
    RelationshipType,
)
from kith.http.wire import ApiModel, InputModel

Strength = float


def _not_future(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("Give a timezone (e.g. 2026-01-31T12:00:00Z).")
    return value


class RelationshipIn(InputModel):
    """``fromKind``/``toKind`` default to CONTACT. Directed types read "from TYPE to":
    from REPORTS_TO to, from INTRODUCED_BY to, from MENTOR of to. ``strength`` is a
    manual value that wins over the computed one until you PATCH it to null."""

    from_id: uuid.UUID
    from_kind: NodeKind = NodeKind.CONTACT
    to_id: uuid.UUID
    to_kind: NodeKind = NodeKind.CONTACT
    type: RelationshipType = RelationshipType.KNOWS
    strength: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    interaction_count: int = Field(0, ge=0, le=1_000_000)
    last_interaction: datetime | None = None
    source: RelationshipSource = RelationshipSource.MANUAL
    notes: str | None = Field(None, max_length=5000)

    _tz = field_validator("last_interaction")(_not_future)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "fromId": "00000000-0000-4000-8000-000000000001",
                    "toId": "00000000-0000-4000-8000-000000000002",
                    "type": "COLLEAGUE",
                    "strength": 0.7,
                }
            ]
        }
    }


class RelationshipPatch(InputModel):
    """Change the fields sent; ``strength: null`` clears the manual strength."""

    type: RelationshipType | None = None
    strength: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    interaction_count: int | None = Field(None, ge=0, le=1_000_000)
    last_interaction: datetime | None = None
    source: RelationshipSource | None = None
    notes: str | None = Field(None, max_length=5000)

    _tz = field_validator("last_interaction")(_not_future)

    model_config = {"json_schema_extra": {"examples": [{"strength": 0.4}]}}


class RelationshipOut(ApiModel):
    id: uuid.UUID
    from_id: uuid.UUID
    from_kind: NodeKind
    to_id: uuid.UUID
    to_kind: NodeKind
    type: RelationshipType
    directed: bool
    strength: float
    computed_strength: float
    manual_strength: float | None
    interaction_count: int
    last_interaction: datetime | None
    source: RelationshipSource
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class NodeOut(ApiModel):
    """A person on a path or in a network. A contact you may not see is masked:
    ``masked: true`` with ``label`` ("a contact of <owner>") and ``ownerId`` only."""

    kind: NodeKind
    id: uuid.UUID | None = None
    name: str | None = None
    company_id: uuid.UUID | None = None
    company: str | None = None
    position: str | None = None
    owner_id: uuid.UUID | None = None
    masked: bool = False
    label: str | None = None


class PathOut(ApiModel):
    nodes: list[NodeOut]
    strengths: list[float]
    strength: float
    hops: int


class PathResult(ApiModel):
    from_node: NodeOut = Field(serialization_alias="from")
    to: NodeOut
    paths: list[PathOut]
    fewest_hops: PathOut | None


class NetworkNodeOut(ApiModel):
    node: NodeOut
    hops: int
    path_strength: float
    via: int | None = Field(None, description="Index in ``nodes`` of the previous node")


class NetworkEdgeOut(ApiModel):
    source: int = Field(description="Index in ``nodes``")
    target: int = Field(description="Index in ``nodes``")
    strength: float


class NetworkOut(ApiModel):
    center: NodeOut
    depth: int
    nodes: list[NetworkNodeOut]
    edges: list[NetworkEdgeOut]
    truncated: bool


class InfluenceOut(ApiModel):
    """From the stored analytics (computed in the background). Before the first
    run: ``status: PENDING``, metrics null, ``jobId`` of the queued computation."""

    contact_id: uuid.UUID
    status: Literal["READY", "PENDING"]
    pagerank: float | None = None
    percentile: float | None = None
    degree: int | None = None
    betweenness: float | None = None
    community_id: uuid.UUID | None = None
    computed_at: datetime | None = None
    job_id: uuid.UUID | None = None


class CommunityOut(ApiModel):
    id: uuid.UUID
    size: int
    label: str
    top_companies: list[str]
    top_tags: list[str]
    computed_at: datetime


class CommunityMember(ApiModel):
    node: NodeOut
    pagerank: float
    percentile: float
    degree: int


class CommunityDetail(CommunityOut):
    members: list[CommunityMember]
    members_truncated: bool


class CompanyPathOut(ApiModel):
    contact: NodeOut
    path: PathOut | None


class IntroduceIn(InputModel):
    """Ask to be introduced to ``targetId`` (a contact). ``viaId`` (a contact or a
    user) names the intermediary; without it the strongest path from you picks one."""

    target_id: uuid.UUID
    via_id: uuid.UUID | None = None
    message: str = Field(min_length=1, max_length=5000)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "targetId": "00000000-0000-4000-8000-000000000002",
                    "message": "Could you introduce me?",
                }
            ]
        }
    }


class IntroductionOut(ApiModel):
    id: uuid.UUID
    status: IntroductionStatus
    requester_id: uuid.UUID
    addressee_id: uuid.UUID
    target: NodeOut
    via: NodeOut
    message: str
    path: PathOut | None
    response_note: str | None
    created_at: datetime
    accepted_at: datetime | None
    accepted_by: uuid.UUID | None
    declined_at: datetime | None
    declined_by: uuid.UUID | None
    completed_at: datetime | None
    completed_by: uuid.UUID | None
    version: int


class AnalyticsStarted(ApiModel):
    job_id: uuid.UUID
