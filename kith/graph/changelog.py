"""The organization's graph version and change log.

Any change to a pair's effective strength (or a node leaving the graph) is
written with :func:`record` in the same transaction as the change itself: the
version goes up by one and the log keeps (version, pair, strength). A process
holding the graph at version v applies the log after v, or reloads when v is
below the log's floor (pruned by :func:`prune`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from kith.db.types import utcnow
from kith.db.upsert import insert_ignore
from kith.graph.engine.model import EdgeChange, NodeKey
from kith.graph.evidence import node_key, pair_of
from kith.graph.models import GraphChange, GraphVersion, NodeKind, Relationship

# Keep at least this many versions in the log, and everything younger than
# LOG_KEEP: a process further behind reloads the whole graph.
LOG_KEEP_VERSIONS = 10_000
LOG_KEEP = timedelta(hours=1)


@dataclass(frozen=True)
class VersionState:
    version: int
    floor: int


def state(session: Session, organization_id: uuid.UUID) -> VersionState:
    """The one cheap query a request makes to know whether its graph is current."""
    row = session.execute(
        select(GraphVersion.version, GraphVersion.log_floor).where(
            GraphVersion.organization_id == organization_id
        )
    ).first()
    return VersionState(0, 0) if row is None else VersionState(int(row[0]), int(row[1]))


def _bump(session: Session, organization_id: uuid.UUID) -> int:
    # The UPDATE takes the row lock: concurrent writers of one organization get
    # consecutive versions in commit order.
    insert_ignore(
        session,
        GraphVersion,
        {"organization_id": organization_id, "version": 0, "log_floor": 0, "updated_at": utcnow()},
    )
    version = session.execute(
        update(GraphVersion)
        .where(GraphVersion.organization_id == organization_id)
        .values(version=GraphVersion.version + 1, updated_at=utcnow())
        .returning(GraphVersion.version)
    ).scalar_one()
    return int(version)


def pair_strengths(
    session: Session, organization_id: uuid.UUID, pairs: Iterable[tuple[NodeKey, NodeKey]]
) -> dict[tuple[NodeKey, NodeKey], float | None]:
    """The effective strength of each pair now: the strongest of its relationships
    (None when none is left)."""
    canonical = {pair_of(a, b) for a, b in pairs}
    out: dict[tuple[NodeKey, NodeKey], float | None] = dict.fromkeys(canonical)
    by_ids = {(a[1], b[1]): (a, b) for a, b in canonical}
    items = list(by_ids)
    for start in range(0, len(items), 300):
        chunk = items[start : start + 300]
        lows = {low for low, _ in chunk}
        rows = session.execute(
            select(Relationship.low_id, Relationship.high_id, func.max(Relationship.strength))
            .where(Relationship.organization_id == organization_id, Relationship.low_id.in_(lows))
            .group_by(Relationship.low_id, Relationship.high_id)
        )
        for low, high, best in rows:
            key = by_ids.get((low, high))
            if key is not None and best is not None and best > 0:
                out[key] = float(best)
    return out


def record(
    session: Session,
    organization_id: uuid.UUID,
    pairs: Iterable[tuple[NodeKey, NodeKey]] = (),
    removed_nodes: Sequence[NodeKey] = (),
) -> int | None:
    """Log the current effective strength of ``pairs`` (read from the table, so call
    after flushing the change) and the removal of ``removed_nodes``; one new version.
    Returns it (None when there was nothing to log)."""
    session.flush()
    strengths = pair_strengths(session, organization_id, pairs)
    if not strengths and not removed_nodes:
        return None
    version = _bump(session, organization_id)
    rows: list[dict[str, object]] = []
    for seq, ((a, b), value) in enumerate(sorted(strengths.items(), key=_change_order)):
        rows.append(
            {
                "organization_id": organization_id,
                "version": version,
                "seq": seq,
                "a_kind": _kind(a),
                "a_id": a[1],
                "b_kind": _kind(b),
                "b_id": b[1],
                "strength": value,
                "created_at": utcnow(),
            }
        )
    for node in removed_nodes:
        rows.append(
            {
                "organization_id": organization_id,
                "version": version,
                "seq": len(rows),
                "a_kind": _kind(node),
                "a_id": node[1],
                "b_kind": None,
                "b_id": None,
                "strength": None,
                "created_at": utcnow(),
            }
        )
    session.execute(insert(GraphChange), rows)
    return version


@dataclass(frozen=True)
class Changes:
    version: int
    edges: list[EdgeChange]
    removed: list[NodeKey]


def since(
    session: Session, organization_id: uuid.UUID, version: int, current: VersionState
) -> list[Changes] | None:
    """The log after ``version`` up to ``current``, version by version; None when
    the log no longer reaches back that far (reload instead)."""
    if version < current.floor:
        return None
    rows = session.execute(
        select(GraphChange)
        .where(
            GraphChange.organization_id == organization_id,
            GraphChange.version > version,
            GraphChange.version <= current.version,
        )
        .order_by(GraphChange.version, GraphChange.seq)
    ).scalars()
    out: dict[int, Changes] = {}
    for row in rows:
        entry = out.setdefault(row.version, Changes(row.version, [], []))
        a = node_key(row.a_kind, row.a_id)
        if row.b_id is None or row.b_kind is None:
            entry.removed.append(a)
        else:
            entry.edges.append(EdgeChange(a, node_key(row.b_kind, row.b_id), row.strength))
    return [out[v] for v in sorted(out)]


def prune(session: Session, organization_id: uuid.UUID) -> int:
    """Drop log entries that are both old and many versions back; returns how many."""
    current = state(session, organization_id)
    cutoff_version = current.version - LOG_KEEP_VERSIONS
    if cutoff_version <= current.floor:
        return 0
    young = session.execute(
        select(func.min(GraphChange.version)).where(
            GraphChange.organization_id == organization_id,
            GraphChange.created_at >= utcnow() - LOG_KEEP,
        )
    ).scalar_one()
    if young is not None:
        cutoff_version = min(cutoff_version, int(young) - 1)
    if cutoff_version <= current.floor:
        return 0
    result = session.execute(
        delete(GraphChange).where(
            GraphChange.organization_id == organization_id,
            GraphChange.version <= cutoff_version,
        )
    )
    deleted: int = getattr(result, "rowcount", 0)
    session.execute(
        update(GraphVersion)
        .where(GraphVersion.organization_id == organization_id)
        .values(log_floor=cutoff_version)
    )
    return int(deleted or 0)


def _kind(key: NodeKey) -> NodeKind:
    return NodeKind.USER if key[0] == "user" else NodeKind.CONTACT


def _change_order(item: tuple[tuple[NodeKey, NodeKey], float | None]) -> tuple[str, str]:
    (a, b), _ = item
    return str(a[1]), str(b[1])


def record_reload(session: Session, organization_id: uuid.UUID) -> int:
    """A change too large to log pair by pair: one new version that no log entry
    reaches, so every process rebuilds its graph on its next query."""
    version = _bump(session, organization_id)
    session.execute(
        update(GraphVersion)
        .where(GraphVersion.organization_id == organization_id)
        .values(log_floor=version)
    )
    session.execute(
        delete(GraphChange).where(
            GraphChange.organization_id == organization_id, GraphChange.version <= version
        )
    )
    return version
