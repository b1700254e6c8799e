"""A contact's timeline: items from every source, newest first.

The audit log (field changes, merges, status changes) is the first source;
interactions, deals and notes register theirs:

    register_source("interactions", interactions_for_timeline)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from kith.audit.models import AuditEntry
from kith.auth.principal import Principal


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    occurred_at: datetime
    actor_id: uuid.UUID | None
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


# Where a page ends: its last item's (occurred_at, id). Items are ordered by both, newest
# first, so a page boundary between items of the same instant neither skips nor repeats.
Before = tuple[datetime, str]
# (session, principal, contact ids, before, limit) → the newest ``limit`` items strictly
# older than ``before`` in (occurred_at, id) order, newest first
Source = Callable[[Session, Principal, list[uuid.UUID], Before | None, int], list[Item]]
# (session, principal, contact ids) → how many items the source has in all
Counter = Callable[[Session, Principal, list[uuid.UUID]], int]
SOURCES: dict[str, tuple[Source, Counter]] = {}


def register_source(name: str, source: Source, counter: Counter) -> None:
    SOURCES[name] = (source, counter)


_ACTIONS = {
    "contact.created": "Contact created",
    "contact.updated": "Details changed",
    "contact.deleted": "Contact deleted",
    "contact.restored": "Contact restored",
    "contact.merged": "Merged with duplicates",
    "contact.merge_undone": "Merge undone",
    "contact.status_changed": "Status changed",
}


def _audit_filter(principal: Principal, contact_ids: list[uuid.UUID]) -> Any:
    return (
        (AuditEntry.organization_id == principal.organization_id)
        & (AuditEntry.entity_type == "contact")
        & AuditEntry.entity_id.in_([str(i) for i in contact_ids])
    )


def _audit_count(session: Session, principal: Principal, contact_ids: list[uuid.UUID]) -> int:
    stmt = select(func.count()).select_from(AuditEntry).where(_audit_filter(principal, contact_ids))
    return int(session.execute(stmt).scalar_one())


def older_than(
    prefix: str, occurred_at: Any, record_id: Any, before: Before | None
) -> ColumnElement[bool] | None:
    """The condition a source whose item ids are ``f"{prefix}:{record_id}"`` puts on its
    rows for :data:`Before` (``record_id`` a UUID column: UUIDs order like their text)."""
    if before is None:
        return None
    at, item_id = before
    source, _, raw_id = item_id.partition(":")
    if source == prefix:
        try:
            same_instant = record_id < uuid.UUID(raw_id)
        except ValueError:
            same_instant = false()
    else:  # ids of another source: all of this one's sort below them, or none
        same_instant = true() if prefix < source else false()
    return or_(occurred_at < at, and_(occurred_at == at, same_instant))


def _audit_source(
    session: Session,
    principal: Principal,
    contact_ids: list[uuid.UUID],
    before: Before | None,
    limit: int,
) -> list[Item]:
    stmt = (
        select(AuditEntry)
        .where(_audit_filter(principal, contact_ids))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    condition = older_than("audit", AuditEntry.occurred_at, AuditEntry.id, before)
    if condition is not None:
        stmt = stmt.where(condition)
    items = []
    for entry in session.execute(stmt).scalars():
        summary = _ACTIONS.get(entry.action, entry.action)
        if entry.action == "contact.updated" and entry.changes:
            summary = "Changed " + ", ".join(sorted(entry.changes))
        items.append(
            Item(
                id=f"audit:{entry.id}",
                type="change",
                occurred_at=entry.occurred_at,
                actor_id=entry.actor_id,
                summary=summary,
                data={"action": entry.action, "changes": entry.changes, **entry.context},
            )
        )
    return items


register_source("audit", _audit_source, _audit_count)


def timeline(
    session: Session,
    principal: Principal,
    contact_ids: list[uuid.UUID],
    *,
    before: Before | None = None,
    limit: int = 50,
) -> tuple[list[Item], bool]:
    """Items of all sources, newest first; ``(items, has_more)``."""
    merged: list[Item] = []
    for source, _ in SOURCES.values():
        merged.extend(source(session, principal, contact_ids, before, limit + 1))
    merged.sort(key=lambda item: (item.occurred_at, item.id), reverse=True)
    return merged[:limit], len(merged) > limit


def count(session: Session, principal: Principal, contact_ids: list[uuid.UUID]) -> int:
    return sum(counter(session, principal, contact_ids) for _, counter in SOURCES.values())
