"""Background work of contacts: the duplicate scan, training the organization's
match model, and purging the trash (registered with kith.jobs)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from kith.auth.models import Organization
from kith.auth.principal import Principal
from kith.contacts import duplicates, service
from kith.contacts.dedupe.model import DEFAULT_THRESHOLD
from kith.contacts.dedupe.scan import find_duplicates
from kith.contacts.models import Contact, MatchModelRow
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.jobs import service as jobs
from kith.jobs.context import JobContext
from kith.jobs.registry import job_type, periodic

SCAN_JOB = "contacts.duplicate_scan"
TRAIN_JOB = "contacts.train_match_model"
# An organization trains its own model once it has this many contacts.
TRAIN_MIN_CONTACTS = 5000
BATCH = 500
# Contacts whose stored blocking keys are checked per transaction after a scan.
KEY_SYNC_BATCH = 1000


@job_type(SCAN_JOB, max_attempts=3, lease_seconds=300)
def scan_duplicates(ctx: JobContext) -> dict[str, Any]:
    """Score every blocked pair of the organization's live contacts and queue the
    likely duplicates (pairs already dismissed or merged are left alone)."""
    org = ctx.organization_id
    with ctx.database.transaction() as session:
        model = duplicates.model_for(session, org)
        resolved = duplicates.dismissed_pairs(session, org)
        total = session.execute(
            select(func.count())
            .select_from(Contact)
            .where(Contact.organization_id == org, Contact.deleted_at.is_(None))
        ).scalar_one()
        ctx.progress(0, int(total), "reading contacts")
        records = list(duplicates.iter_records(session, org))
    ctx.progress(len(records), len(records), "comparing candidate pairs")
    pending: list[tuple[str, str, Any]] = []
    queued = 0

    def flush() -> None:
        nonlocal queued
        with ctx.database.transaction(write=True) as session:
            for a, b, match in pending:
                duplicates.record_pair(session, org, _uuid(a), _uuid(b), match)
        queued += len(pending)
        pending.clear()
        ctx.progress(len(records), len(records), f"{queued} likely duplicate pairs queued")

    stats: dict[str, Any] = {}
    for a, b, match in find_duplicates(records, model, DEFAULT_THRESHOLD, stats=stats):
        if (a, b) in resolved or (b, a) in resolved:
            continue
        pending.append((a, b, match))
        if len(pending) >= BATCH:
            flush()
    if pending:
        flush()
    rekeyed = 0
    for start in range(0, len(records), KEY_SYNC_BATCH):
        ids = [_uuid(r.id) for r in records[start : start + KEY_SYNC_BATCH]]
        with ctx.database.transaction(write=True) as session:
            rekeyed += duplicates.sync_blocking_keys(session, org, ids)
        ctx.progress(len(records), len(records), f"{queued} pairs queued; keys checked")
    return {
        "contacts": len(records),
        "pairsQueued": queued,
        "candidatePairs": int(stats.get("candidate_pairs", 0)),
        "blockingKeysChanged": rekeyed,
    }


@job_type(TRAIN_JOB, max_attempts=2, lease_seconds=600)
def train_match_model(ctx: JobContext) -> dict[str, Any]:
    """Estimate the organization's own match model from its contacts (Splink)."""
    from kith.contacts.dedupe.train import train_model

    with ctx.database.transaction() as session:
        records = list(duplicates.iter_records(session, ctx.organization_id))
    if len(records) < TRAIN_MIN_CONTACTS:
        return {
            "trained": False,
            "contacts": len(records),
            "reason": f"fewer than {TRAIN_MIN_CONTACTS} contacts; the default model is used",
        }
    ctx.progress(0, 1, f"training on {len(records)} contacts")
    model = train_model(records)
    with ctx.database.transaction(write=True) as session:
        row = session.get(MatchModelRow, ctx.organization_id)
        if row is None:
            row = MatchModelRow(organization_id=ctx.organization_id, model={}, trained_on=0)
            session.add(row)
        row.model, row.trained_on, row.trained_at = model.to_dict(), len(records), utcnow()
    ctx.progress(1, 1, "trained")
    return {"trained": True, "contacts": len(records)}


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def _each_organization(database: Database, job: str) -> None:
    with database.transaction() as session:
        orgs = (
            session.execute(
                select(Organization.id).where(
                    select(Contact.id).where(Contact.organization_id == Organization.id).exists()
                )
            )
            .scalars()
            .all()
        )
    for org in orgs:
        with database.transaction() as session:
            jobs.enqueue(session, Principal.system(org), job)


@periodic("contacts.nightly_duplicate_scan", "30 2 * * *")
def nightly_duplicate_scan(database: Database) -> None:
    """Queue a duplicate scan for every organization with contacts."""
    _each_organization(database, SCAN_JOB)


@periodic("contacts.weekly_model_training", "0 3 * * 0")
def weekly_model_training(database: Database) -> None:
    """Re-train each organization's match model from its own contacts."""
    _each_organization(database, TRAIN_JOB)


@periodic("contacts.purge_trash", "45 * * * *")
def purge_trash(database: Database) -> None:
    """Hard-delete contacts that stayed in the trash longer than 30 days."""
    with database.transaction(write=True) as session:
        service.purge_deleted(session)
