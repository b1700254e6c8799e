"""Recording and reading the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session, UOWTransaction

from kith.audit.models import AuditEntry
from kith.auth.principal import Principal
from kith.auth.roles import Permission
from kith.db.types import jsonable
from kith.observability import request_id_var

REDACTED = "[redacted]"


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    redact: frozenset[str] = frozenset(),
) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for every field that differs; secrets redacted."""
    before = before or {}
    after = after or {}
    changes: dict[str, list[Any]] = {}
    for field in sorted(set(before) | set(after)):
        old, new = jsonable(before.get(field)), jsonable(after.get(field))
        if old != new:
            changes[field] = [REDACTED, REDACTED] if field in redact else [old, new]
    return changes


def record(
    session: Session,
    principal: Principal,
    *,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    redact: frozenset[str] = frozenset(),
    context: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction."""
    rid = request_id_var.get()
    entry = AuditEntry(
        organization_id=principal.organization_id,
        actor_type=principal.kind,
        actor_id=None if principal.kind == "system" else principal.user_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=diff(before, after, redact=redact),
        context=jsonable(dict(context or {})),
        request_id=None if rid == "-" else rid,
    )
    session.add(entry)
    return entry


def query(
    principal: Principal,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
) -> Select[*tuple[Any, ...]]:
    """The organization's audit entries (ADMIN only), filtered."""
    principal.require(Permission.MANAGE_SETTINGS)
    stmt = select(AuditEntry).where(AuditEntry.organization_id == principal.organization_id)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return stmt


class AppendOnlyViolation(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _guard_append_only(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyViolation("the audit log is append-only")
