"""Stored analytics: PageRank, percentile, degree, betweenness estimate and
community of every node, and the communities with generated labels — computed
by the ``graph.analytics`` job (never on a request) and read by the API."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.errors import NotFound
from kith.graph import network, people
from kith.graph.engine.analytics import compute_analytics
from kith.graph.engine.model import NodeKey
from kith.graph.loader import load_graph
from kith.graph.models import (
    AnalyticsRun,
    AnalyticsStatus,
    Community,
    NodeKind,
    NodeMetrics,
)
from kith.graph.schemas import CommunityDetail, CommunityMember, CommunityOut, InfluenceOut
from kith.jobs import service as jobs
from kith.jobs.models import Job, JobState

ANALYTICS_JOB = "graph.analytics"
BATCH = 10_000
LABEL_COMPANIES = 3
LABEL_TAGS = 3
MIN_COMMUNITY_SIZE = 2
Progress = Callable[[int, int, str], None]

SORTS: dict[str, Any] = {"size": Community.size, "label": Community.label}
DEFAULT_SORT = ["-size"]


def compute_and_store(
    database: Database, organization_id: uuid.UUID, progress: Progress, job_id: uuid.UUID | None
) -> AnalyticsRun:
    """Build the graph from the database, compute its analytics and replace the
    stored ones in one transaction."""
    started = time.perf_counter()
    with database.transaction(write=True) as session:
        run = AnalyticsRun(organization_id=organization_id, job_id=job_id)
        session.add(run)
        session.flush()
        run_id = run.id
    progress(0, 4, "loading the graph")
    with database.transaction() as session:
        graph = load_graph(session, organization_id)
    progress(1, 4, f"computing PageRank, betweenness and communities of {graph.node_count()} nodes")
    result = compute_analytics(graph, seed=0)
    progress(2, 4, "labelling communities")
    members: dict[int, list[int]] = {}
    for i, community in enumerate(result.community.tolist()):
        members.setdefault(int(community), []).append(i)
    kept = {c: m for c, m in members.items() if len(m) >= MIN_COMMUNITY_SIZE}
    with database.transaction() as session:
        labels = {
            c: _label(session, organization_id, [result.keys[i] for i in m])
            for c, m in kept.items()
        }
    progress(3, 4, "storing")
    now = utcnow()
    with database.transaction(write=True) as session:
        session.execute(delete(NodeMetrics).where(NodeMetrics.organization_id == organization_id))
        session.execute(delete(Community).where(Community.organization_id == organization_id))
        rows: list[dict[str, Any]] = []
        pagerank = result.pagerank.tolist()
        percentile = result.percentile.tolist()
        degree = result.degree.tolist()
        betweenness = result.betweenness.tolist()
        community = result.community.tolist()
        for i, (kind, node_id) in enumerate(result.keys):
            rows.append(
                {
                    "organization_id": organization_id,
                    "node_id": node_id,
                    "node_kind": NodeKind.USER if kind == "user" else NodeKind.CONTACT,
                    "run_id": run_id,
                    "pagerank": float(pagerank[i]),
                    "percentile": float(percentile[i]),
                    "degree": int(degree[i]),
                    "betweenness": float(betweenness[i]),
                    "community": int(community[i]),
                }
            )
            if len(rows) >= BATCH:
                session.execute(insert(NodeMetrics), rows)
                rows = []
        if rows:
            session.execute(insert(NodeMetrics), rows)
        communities = [
            {
                "organization_id": organization_id,
                "id": uuid.uuid4(),
                "run_id": run_id,
                "number": number,
                "size": len(kept[number]),
                "label": labels[number][0],
                "top_companies": labels[number][1],
                "top_tags": labels[number][2],
                "computed_at": now,
            }
            for number in sorted(kept)
        ]
        for start in range(0, len(communities), BATCH):
            session.execute(insert(Community), communities[start : start + BATCH])
        stored = session.get(AnalyticsRun, (organization_id, run_id))
        if stored is None:  # deleted under us: nothing to finish
            raise RuntimeError("the analytics run row disappeared")
        run = stored
        run.status = AnalyticsStatus.DONE
        run.graph_version = graph.version
        run.nodes = len(result.keys)
        run.edges = int(sum(degree) // 2)
        run.communities = len(kept)
        run.modularity = float(result.modularity)
        run.seconds = time.perf_counter() - started
        run.finished_at = now
        # Only the latest finished run is kept with its rows.
        session.execute(
            delete(AnalyticsRun).where(
                AnalyticsRun.organization_id == organization_id,
                AnalyticsRun.id != run_id,
                AnalyticsRun.status != AnalyticsStatus.RUNNING,
            )
        )
    progress(4, 4, "done")
    return run


def fail(
    database: Database, organization_id: uuid.UUID, job_id: uuid.UUID | None, error: str
) -> None:
    with database.transaction(write=True) as session:
        for run in session.execute(
            select(AnalyticsRun).where(
                AnalyticsRun.organization_id == organization_id,
                AnalyticsRun.job_id == job_id,
                AnalyticsRun.status == AnalyticsStatus.RUNNING,
            )
        ).scalars():
            run.status = AnalyticsStatus.FAILED
            run.error = error[:500]
            run.finished_at = utcnow()


def _label(
    session: Session, organization_id: uuid.UUID, keys: list[tuple[str, uuid.UUID]]
) -> tuple[str, list[str], list[str]]:
    """A name for a community from its dominant companies and tags."""
    details = people.contacts_by_id(
        session, organization_id, [k[1] for k in keys if k[0] == "contact"]
    )
    companies = Counter(p.company for p in details.values() if p.company)
    tags = Counter(t for p in details.values() for t in p.tags)
    top_companies = [name for name, _ in companies.most_common(LABEL_COMPANIES)]
    top_tags = [name for name, _ in tags.most_common(LABEL_TAGS)]
    parts = []
    if top_companies:
        parts.append(", ".join(top_companies))
    if top_tags:
        parts.append(" ".join(f"#{t}" for t in top_tags))
    label = " · ".join(parts) if parts else f"{len(keys)} people"
    return label[:300], top_companies, top_tags


def latest_run(session: Session, organization_id: uuid.UUID) -> AnalyticsRun | None:
    return session.execute(
        select(AnalyticsRun)
        .where(
            AnalyticsRun.organization_id == organization_id,
            AnalyticsRun.status == AnalyticsStatus.DONE,
        )
        .order_by(AnalyticsRun.finished_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def pending_job(session: Session, organization_id: uuid.UUID) -> uuid.UUID | None:
    return session.execute(
        select(Job.id)
        .where(
            Job.organization_id == organization_id,
            Job.type == ANALYTICS_JOB,
            Job.state.in_([JobState.QUEUED, JobState.RUNNING]),
        )
        .limit(1)
    ).scalar_one_or_none()


def influence(session: Session, principal: Principal, contact_id: uuid.UUID) -> InfluenceOut:
    """The stored metrics of a contact you may see. Before the organization's first
    computation: ``PENDING`` with the queued job's id (queued now if none is)."""
    network.require_contact(session, principal, contact_id)
    org = principal.organization_id
    run = latest_run(session, org)
    if run is None:
        job_id = pending_job(session, org)
        if job_id is None:
            job_id = jobs.enqueue(session, Principal.system(org), ANALYTICS_JOB).id
        return InfluenceOut(contact_id=contact_id, status="PENDING", job_id=job_id)
    metrics = session.get(NodeMetrics, (org, contact_id))
    out = InfluenceOut(contact_id=contact_id, status="READY", computed_at=run.finished_at)
    if metrics is not None:
        out.pagerank = metrics.pagerank
        out.percentile = metrics.percentile
        out.degree = metrics.degree
        out.betweenness = metrics.betweenness
        out.community_id = session.execute(
            select(Community.id).where(
                Community.organization_id == org, Community.number == metrics.community
            )
        ).scalar_one_or_none()
    return out


def communities_query(principal: Principal) -> Select[Any]:
    return select(Community).where(Community.organization_id == principal.organization_id)


def community_out(row: Community) -> CommunityOut:
    return CommunityOut(
        id=row.id,
        size=row.size,
        label=row.label,
        top_companies=list(row.top_companies),
        top_tags=list(row.top_tags),
        computed_at=row.computed_at,
    )


def community(
    session: Session, principal: Principal, community_id: uuid.UUID, limit: int
) -> CommunityDetail:
    """A community with its members ranked by PageRank (masked as the RBAC rule says)."""
    row = session.execute(
        communities_query(principal).where(Community.id == community_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Community not found.")
    metrics = list(
        session.execute(
            select(NodeMetrics)
            .where(
                NodeMetrics.organization_id == principal.organization_id,
                NodeMetrics.community == row.number,
            )
            .order_by(NodeMetrics.pagerank.desc(), NodeMetrics.node_id)
            .limit(limit + 1)
        ).scalars()
    )
    truncated = len(metrics) > limit
    metrics = metrics[:limit]
    view = network.NodeView(session, principal)
    keys: list[NodeKey] = [
        ("user" if m.node_kind is NodeKind.USER else "contact", m.node_id) for m in metrics
    ]
    view.load(None, keys)
    base = community_out(row)
    return CommunityDetail(
        **base.model_dump(),
        members=[
            CommunityMember(
                node=view.node(k), pagerank=m.pagerank, percentile=m.percentile, degree=m.degree
            )
            for k, m in zip(keys, metrics, strict=True)
        ],
        members_truncated=truncated,
    )


def computed_at(run: AnalyticsRun | None) -> datetime | None:
    return run.finished_at if run else None
