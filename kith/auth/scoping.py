"""The one place tenant queries are scoped.

Every read of tenant data starts from :func:`scoped`, which adds the caller's
organization and, for records that have an owner, the record-level rule of the
caller's role: a SALES_REP sees what they own, a SALES_MANAGER what their teams'
members own, other roles everything in the organization. Anything outside the
scope is indistinguishable from a record that does not exist (404).
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from kith.auth.models import TeamMember
from kith.auth.principal import Principal
from kith.auth.roles import Permission, Visibility
from kith.errors import NotFound, PreconditionFailed

T = TypeVar("T")

# Set per request by kith.http.etag.VersionedRoute from the If-Match header.
if_match_var: ContextVar[str | None] = ContextVar("kith_if_match", default=None)


class OwnedMixin:
    """Records with an owner get the per-role record rules."""

    owner_id: Mapped[uuid.UUID | None] = mapped_column(index=False)


def owner_condition(owner_column: Any, principal: Principal) -> ColumnElement[bool] | None:
    """The WHERE clause a role's visibility adds on an owner column (None: no limit)."""
    visibility = principal.visibility
    if visibility is Visibility.ALL:
        return None
    if visibility is Visibility.TEAM and principal.team_ids:
        teammates = select(TeamMember.user_id).where(
            TeamMember.organization_id == principal.organization_id,
            TeamMember.team_id.in_(principal.team_ids),
        )
        return or_(owner_column == principal.user_id, owner_column.in_(teammates))
    return owner_column == principal.user_id  # type: ignore[no-any-return]


def scoped(
    model: type[T], principal: Principal, stmt: Select[*tuple[Any, ...]] | None = None
) -> Select[*tuple[Any, ...]]:
    """``SELECT model`` limited to what ``principal`` may see."""
    stmt = select(model) if stmt is None else stmt
    stmt = stmt.where(model.organization_id == principal.organization_id)  # type: ignore[attr-defined]
    if issubclass(model, OwnedMixin):
        condition = owner_condition(model.owner_id, principal)
        if condition is not None:
            stmt = stmt.where(condition)
    return stmt


def get_scoped(session: Session, model: type[T], record_id: uuid.UUID, principal: Principal) -> T:
    """One record the caller may see, else 404."""
    stmt = scoped(model, principal).where(model.id == record_id)  # type: ignore[attr-defined]
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{_label(model)} not found.")
    return found  # type: ignore[no-any-return]


def get_for_write(
    session: Session,
    model: type[T],
    record_id: uuid.UUID,
    principal: Principal,
    permission: Permission = Permission.EDIT,
) -> T:
    """A record the caller may change: visible (else 404), permitted (else 403) and,
    when the request sent If-Match, still at that version (else 412)."""
    record = get_scoped(session, model, record_id, principal)
    principal.require(permission)
    check_if_match(getattr(record, "version", None))
    return record


def check_if_match(current_version: int | None) -> None:
    expected = if_match_var.get()
    if expected is None or current_version is None:
        return
    # If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
    tags = {tag.strip() for tag in expected.split(",")}
    if "*" in tags:
        return
    if f'"{current_version}"' not in tags:
        raise PreconditionFailed(details={"currentVersion": current_version})


def _label(model: type[Any]) -> str:
    return str(getattr(model, "__label__", model.__name__))
