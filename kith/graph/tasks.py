"""Background work of the graph (registered with kith.jobs and kith.events):
analytics per organization, the full strength recompute, pruning the change
log, and keeping the graphs in step with contacts deleted or restored."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.events.dispatcher import Event, on
from kith.graph import analytics_store, changelog, service
from kith.graph.analytics_store import ANALYTICS_JOB
from kith.graph.models import GraphVersion, NodeKind, Relationship
from kith.jobs import service as jobs
from kith.jobs.context import JobContext
from kith.jobs.registry import job_type, periodic

RECOMPUTE_JOB = "graph.recompute_strength"


@job_type(ANALYTICS_JOB, max_attempts=2, lease_seconds=900)
def compute_analytics(ctx: JobContext) -> dict[str, Any]:
    """PageRank, betweenness estimate and communities of the organization's graph."""
    try:
        run = analytics_store.compute_and_store(
            ctx.database,
            ctx.organization_id,
            lambda done, total, message: ctx.progress(done, total, message),
            ctx.job_id,
        )
    except Exception as exc:
        analytics_store.fail(ctx.database, ctx.organization_id, ctx.job_id, repr(exc))
        raise
    return {
        "runId": str(run.id),
        "nodes": run.nodes,
        "edges": run.edges,
        "communities": run.communities,
        "modularity": run.modularity,
        "seconds": run.seconds,
    }


@job_type(RECOMPUTE_JOB, max_attempts=3, lease_seconds=900)
def recompute_strength(ctx: JobContext) -> dict[str, Any]:
    """Recompute every relationship's strength from all evidence."""
    with ctx.database.transaction(write=True) as session:
        return service.recompute_all(
            session,
            ctx.organization_id,
            progress=lambda done, total, message: ctx.progress(done, total, message),
        )


def _organizations(database: Database) -> list[uuid.UUID]:
    with database.transaction() as session:
        return list(session.execute(select(Relationship.organization_id).distinct()).scalars())


def _enqueue_each(database: Database, job: str) -> None:
    for org in _organizations(database):
        with database.transaction(write=True) as session:
            if job == ANALYTICS_JOB and analytics_store.pending_job(session, org):
                continue
            jobs.enqueue(session, Principal.system(org), job)


@periodic("graph.nightly_analytics", "15 3 * * *")
def nightly_analytics(database: Database) -> None:
    """Queue the graph analytics of every organization with relationships."""
    _enqueue_each(database, ANALYTICS_JOB)


@periodic("graph.nightly_strength", "45 2 * * *")
def nightly_strength(database: Database) -> None:
    """Queue the full strength recompute (recency decay, inferred ties) everywhere."""
    _enqueue_each(database, RECOMPUTE_JOB)


@periodic("graph.prune_changes", "*/10 * * * *")
def prune_changes(database: Database) -> None:
    """Drop old change-log entries (processes that far behind rebuild)."""
    with database.transaction() as session:
        orgs = list(session.execute(select(GraphVersion.organization_id)).scalars())
    for org in orgs:
        with database.transaction(write=True) as session:
            changelog.prune(session, org)


def _contact_pairs(session: Session, organization_id: uuid.UUID, contact_id: uuid.UUID) -> set[Any]:
    rows = session.execute(
        select(Relationship).where(
            Relationship.organization_id == organization_id,
            ((Relationship.from_kind == NodeKind.CONTACT) & (Relationship.from_id == contact_id))
            | ((Relationship.to_kind == NodeKind.CONTACT) & (Relationship.to_id == contact_id)),
        )
    ).scalars()
    return {service.canonical_pair(row) for row in rows}


@on("contact.deleted", name="graph.contact_deleted")
def contact_deleted(session: Session, event: Event) -> None:
    """Every process drops the contact from its graph (queries also drop a deleted
    contact as soon as they meet it)."""
    changelog.record(
        session, event.organization_id, removed_nodes=[("contact", uuid.UUID(event.aggregate_id))]
    )


@on("contact.created", name="graph.contact_restored")
def contact_restored(session: Session, event: Event) -> None:
    """A contact restored from the trash gets its relationships back in every graph."""
    if not event.payload.get("restored"):
        return
    contact_id = uuid.UUID(event.aggregate_id)
    pairs = _contact_pairs(session, event.organization_id, contact_id)
    if pairs:
        changelog.record(session, event.organization_id, pairs)
