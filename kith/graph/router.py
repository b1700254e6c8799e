"""HTTP routes of the relationship graph (``/api/v1/graph``).

RBAC, for every route: you may only ask about contacts you may see (others, like
another organization's, are a 404). Paths, networks and community members may
pass through contacts you may not see — a colleague's contact — which are then
returned masked: ``{"masked": true, "label": "a contact of <owner>", "ownerId"}``,
never their id, name, email or phone. VIEWERs read; writes need the Edit
permission (403). Every committed relationship change is visible to the very
next graph query of any API process."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import APIRouter, Depends, Query, Response, status

from kith.auth.dependencies import CurrentPrincipal
from kith.auth.roles import Permission
from kith.companies import service as companies
from kith.db.session import DbSession
from kith.graph import analytics_store, introductions, network, service
from kith.graph import tasks as _tasks  # noqa: F401 - registers the job types
from kith.graph.models import (
    Community,
    Introduction,
    IntroductionStatus,
    Relationship,
    RelationshipSource,
    RelationshipType,
)
from kith.graph.schemas import (
    AnalyticsStarted,
    CommunityDetail,
    CommunityOut,
    CompanyPathOut,
    InfluenceOut,
    IntroduceIn,
    IntroductionOut,
    NetworkOut,
    PathResult,
    RelationshipIn,
    RelationshipOut,
    RelationshipPatch,
)
from kith.http.etag import VersionedRoute
from kith.http.pagination import ListParams, Page, PageInfo, list_params, paginate
from kith.jobs import service as jobs

router = APIRouter(prefix="/graph", tags=["graph"], route_class=VersionedRoute)
Params = Depends(list_params)


# -- relationships ------------------------------------------------------------------------


@router.get("/relationships", response_model=Page[RelationshipOut])
def list_relationships(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    contact_id: uuid.UUID | None = Query(None, alias="contactId"),
    user_id: uuid.UUID | None = Query(None, alias="userId"),
    type_: RelationshipType | None = Query(None, alias="type"),
    source: RelationshipSource | None = Query(None),
    min_strength: float | None = Query(None, alias="minStrength", ge=0.0, le=1.0),
) -> Page[RelationshipOut]:
    """Relationships whose every contact you may see, filtered by ``contactId`` or
    ``userId`` (either end), ``type``, ``source``, ``minStrength``; sorted by
    ``strength`` (default, strongest first), ``createdAt``, ``updatedAt``,
    ``lastInteraction``, ``interactionCount``."""
    stmt = service.visible(principal)
    for node_id in (contact_id, user_id):
        if node_id is not None:
            stmt = stmt.where((Relationship.low_id == node_id) | (Relationship.high_id == node_id))
    if type_ is not None:
        stmt = stmt.where(Relationship.type == type_)
    if source is not None:
        stmt = stmt.where(Relationship.source == source)
    if min_strength is not None:
        stmt = stmt.where(Relationship.strength >= min_strength)
    return paginate(
        session,
        stmt,
        params,
        sort_fields=service.SORTS,
        default_sort=service.DEFAULT_SORT,
        id_column=Relationship.id,
        to_item=service.to_out,
    )


@router.post("/relationships", status_code=status.HTTP_201_CREATED, response_model=RelationshipOut)
def create_relationship(
    data: RelationshipIn, principal: CurrentPrincipal, session: DbSession
) -> RelationshipOut:
    """Record a relationship between two contacts, or a user and a contact. Its
    strength is computed from evidence unless you set ``strength`` (0 to 1). A
    contact you may not see is a 404; the same pair and type twice is a 409."""
    return service.to_out(service.create(session, principal, data))


@router.get("/relationships/{relationship_id}", response_model=RelationshipOut)
def get_relationship(
    relationship_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> RelationshipOut:
    return service.to_out(service.get(session, principal, relationship_id))


@router.patch("/relationships/{relationship_id}", response_model=RelationshipOut)
def update_relationship(
    relationship_id: uuid.UUID,
    data: RelationshipPatch,
    principal: CurrentPrincipal,
    session: DbSession,
) -> RelationshipOut:
    """Change the fields sent (``strength: null`` returns to the computed strength);
    send ``If-Match`` to refuse overwriting a newer version."""
    return service.to_out(service.update(session, principal, relationship_id, data))


@router.delete("/relationships/{relationship_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_relationship(
    relationship_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    service.remove(session, principal, relationship_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- reads over the graph ------------------------------------------------------------------


@router.get("/network/{contact_id}", response_model=NetworkOut)
def get_network(
    contact_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    depth: int = Query(2, ge=1, le=3),
    min_strength: float = Query(0.0, alias="minStrength", ge=0.0, le=1.0),
    limit: int = Query(200, ge=1, le=500),
) -> NetworkOut:
    """People within ``depth`` hops of a contact you may see, ranked by the strength
    of their strongest path (product of strengths), at most ``limit`` (the center
    included; ``truncated`` when cut). Edges refer to positions in ``nodes``.
    Contacts you may not see are masked."""
    return network.network(
        session, principal, contact_id, depth=depth, min_strength=min_strength, limit=limit
    )


@router.get("/path", response_model=PathResult)
def get_path(
    principal: CurrentPrincipal,
    session: DbSession,
    to: uuid.UUID = Query(description="A contact (or user) id"),
    from_: uuid.UUID | None = Query(
        None,
        alias="from",
        description="A contact or user id; a user (default: you) means through anyone they know",
    ),
    k: int = Query(3, ge=1, le=10),
) -> PathResult:
    """The ``k`` strongest paths (strength = product of the relationships'
    strengths, at most 6 hops) and the fewest-hops path. No path: 200 with empty
    ``paths``; an id you may not see: 404. Contacts you may not see are masked."""
    return network.paths(session, principal, from_, to, k=k)


@router.get("/companies/{company_id}/paths", response_model=Page[CompanyPathOut])
def company_paths(
    company_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    page: int = Query(1, ge=1, le=1000),
    limit: int = Query(20, ge=1, le=100),
) -> Page[CompanyPathOut]:
    """Warm paths into a company: each of its contacts with the strongest path (at
    most 4 hops) from your own user node, best first; unreachable ones last with
    ``path: null``. Contacts you may not see are masked."""
    companies.get_company(session, principal, company_id)
    rows = network.company_paths(session, principal, company_id)
    start = (page - 1) * limit
    chunk = rows[start : start + limit]
    return Page[CompanyPathOut](
        data=chunk,
        pagination=PageInfo(page=page, limit=limit, has_next=start + limit < len(rows)),
        total_count=len(rows),
    )


# -- analytics ------------------------------------------------------------------------------


@router.get("/influence/{contact_id}", response_model=InfluenceOut)
def get_influence(
    contact_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> InfluenceOut:
    """PageRank score and percentile within the organization, degree and a
    betweenness (brokerage) estimate, from the analytics computed in the
    background (nightly, or ``POST /graph/analytics``). Before the first run:
    ``status: PENDING``, null metrics and the ``jobId`` computing them. A contact
    not in the graph at the last run: ``READY`` with null metrics."""
    return analytics_store.influence(session, principal, contact_id)


@router.post("/analytics", status_code=status.HTTP_202_ACCEPTED, response_model=AnalyticsStarted)
def start_analytics(principal: CurrentPrincipal, session: DbSession) -> AnalyticsStarted:
    """Compute PageRank, betweenness and communities now (follow the job)."""
    principal.require(Permission.EDIT)
    job_id = analytics_store.pending_job(session, principal.organization_id)
    if job_id is None:
        job_id = jobs.enqueue(session, principal, analytics_store.ANALYTICS_JOB).id
    return AnalyticsStarted(job_id=job_id)


@router.get("/communities", response_model=Page[CommunityOut])
def list_communities(
    principal: CurrentPrincipal, session: DbSession, params: ListParams = Params
) -> Page[CommunityOut]:
    """Communities (Leiden) of the latest analytics run with a label generated from
    their dominant companies and tags; sorted by ``size`` (default, largest first)
    or ``label``."""
    return paginate(
        session,
        analytics_store.communities_query(principal),
        params,
        sort_fields=analytics_store.SORTS,
        default_sort=analytics_store.DEFAULT_SORT,
        id_column=Community.id,
        to_item=analytics_store.community_out,
    )


@router.get("/communities/{community_id}", response_model=CommunityDetail)
def get_community(
    community_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    limit: int = Query(50, ge=1, le=500),
) -> CommunityDetail:
    """A community with its members ranked by PageRank (contacts you may not see
    are masked)."""
    return analytics_store.community(session, principal, community_id, limit)


# -- introductions -----------------------------------------------------------------------


@router.post("/introduce", status_code=status.HTTP_201_CREATED, response_model=IntroductionOut)
def introduce(
    data: IntroduceIn, principal: CurrentPrincipal, session: DbSession
) -> IntroductionOut:
    """Ask to be introduced to a contact you may see. Without ``viaId`` the
    intermediary is the last person on the strongest path from you. The request
    goes to the intermediary contact's owner (or the intermediary user) and
    ``introduction.requested`` is emitted."""
    row = introductions.request(session, principal, data)
    return introductions.to_out(session, principal, [row])[0]


@router.get("/introductions", response_model=Page[IntroductionOut])
def list_introductions(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    status_filter: IntroductionStatus | None = Query(None, alias="status"),
    role: str | None = Query(
        None, pattern="^(requested|received)$", description="requested by me, or addressed to me"
    ),
) -> Page[IntroductionOut]:
    """Introductions you asked for or that are addressed to you (ADMINs: all)."""
    stmt = introductions.visible(principal)
    if status_filter is not None:
        stmt = stmt.where(Introduction.status == status_filter)
    if role == "requested":
        stmt = stmt.where(Introduction.requester_id == principal.user_id)
    elif role == "received":
        stmt = stmt.where(Introduction.addressee_id == principal.user_id)
    page = paginate(
        session,
        stmt,
        params,
        sort_fields=introductions.SORTS,
        default_sort=introductions.DEFAULT_SORT,
        id_column=Introduction.id,
        to_item=lambda row: row,
    )
    return Page[IntroductionOut](
        data=introductions.to_out(session, principal, list(page.data)),
        pagination=page.pagination,
        total_count=page.total_count,
    )


@router.get("/introductions/{introduction_id}", response_model=IntroductionOut)
def get_introduction(
    introduction_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> IntroductionOut:
    row = introductions.get(session, principal, introduction_id)
    return introductions.to_out(session, principal, [row])[0]


def _decide(action: str) -> Callable[..., IntroductionOut]:
    def decide(
        introduction_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
    ) -> IntroductionOut:
        row = introductions.decide(session, principal, introduction_id, action)
        return introductions.to_out(session, principal, [row])[0]

    decide.__name__ = f"{action}_introduction"
    decide.__doc__ = {
        "accept": "Accept a REQUESTED introduction (the addressee only).",
        "decline": "Decline a REQUESTED or ACCEPTED introduction (the addressee only).",
        "complete": "Mark an ACCEPTED introduction as made (the addressee only).",
    }[action]
    return decide


for _action in ("accept", "decline", "complete"):
    router.add_api_route(
        f"/introductions/{{introduction_id}}/{_action}",
        _decide(_action),
        methods=["POST"],
        response_model=IntroductionOut,
    )
