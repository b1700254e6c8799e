"""What the graph reads about the people it links: contacts (through the contacts
service's scoped statements, so visibility rules stay in one place) and users."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.auth.models import Membership, User
from kith.auth.principal import Principal
from kith.auth.scoping import scoped
from kith.contacts import service as contacts
from kith.contacts.models import Contact


@dataclass(frozen=True)
class Person:
    """A node's details: shown in full to whoever may see the contact."""

    kind: str  # "contact" | "user"
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    owner_id: uuid.UUID | None
    company_id: uuid.UUID | None
    company: str | None
    position: str | None
    tags: tuple[str, ...]


def _system(organization_id: uuid.UUID) -> Principal:
    return Principal.system(organization_id)


def live_contact_ids(
    session: Session, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    ids = list(set(ids))
    found: set[uuid.UUID] = set()
    for chunk in _chunks(ids):
        stmt = contacts.visible(_system(organization_id)).where(Contact.id.in_(chunk))
        found.update(session.execute(stmt.with_only_columns(Contact.id)).scalars())
    return found


def visible_contact_ids(
    session: Session, principal: Principal, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``ids`` that are live contacts ``principal`` may see."""
    ids = list(set(ids))
    found: set[uuid.UUID] = set()
    for chunk in _chunks(ids):
        stmt = contacts.visible(principal).where(Contact.id.in_(chunk))
        found.update(session.execute(stmt.with_only_columns(Contact.id)).scalars())
    return found


def visible_contacts_subquery(principal: Principal) -> Any:
    """``SELECT id`` of the live contacts ``principal`` may see (for IN clauses)."""
    return contacts.visible(principal).with_only_columns(Contact.id)


def deleted_contact_ids(session: Session, organization_id: uuid.UUID) -> set[uuid.UUID]:
    """Soft-deleted contacts of the organization (the graph leaves them out)."""
    stmt = contacts.visible(_system(organization_id), deleted=True)
    return set(session.execute(stmt.with_only_columns(Contact.id)).scalars())


def contacts_by_id(
    session: Session, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """Live contacts among ``ids`` with the details a node shows."""
    out: dict[uuid.UUID, Person] = {}
    for chunk in _chunks(list(set(ids))):
        stmt = (
            contacts.visible(_system(organization_id))
            .where(Contact.id.in_(chunk))
            .with_only_columns(
                Contact.id,
                Contact.full_name,
                Contact.email,
                Contact.phone,
                Contact.owner_id,
                Contact.company_id,
                Contact.company_name,
                Contact.position,
                Contact.tags,
            )
        )
        for row in session.execute(stmt):
            out[row.id] = Person(
                "contact",
                row.id,
                row.full_name,
                row.email,
                row.phone,
                row.owner_id,
                row.company_id,
                row.company_name,
                row.position,
                tuple(row.tags or ()),
            )
    return out


def users_by_id(
    session: Session, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """Members of the organization among ``ids`` (any status: a former colleague's
    relationships stay in the graph)."""
    out: dict[uuid.UUID, Person] = {}
    for chunk in _chunks(list(set(ids))):
        rows = session.execute(
            select(User.id, User.name, User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == organization_id, User.id.in_(chunk))
        )
        for row in rows:
            out[row.id] = Person(
                "user", row.id, row.name, row.email, None, None, None, None, None, ()
            )
    return out


def user_names(
    session: Session, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    return {i: p.name for i, p in users_by_id(session, organization_id, ids).items()}


def company_contacts(
    session: Session, principal: Principal, company_id: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """Live contacts of a company visible to ``principal`` (at most ``limit``)."""
    stmt = (
        contacts.visible(principal)
        .where(Contact.company_id == company_id)
        .with_only_columns(Contact.id)
        .order_by(Contact.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def companies_of(
    session: Session, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    out: dict[uuid.UUID, uuid.UUID] = {}
    for chunk in _chunks(list(set(ids))):
        stmt = (
            contacts.visible(_system(organization_id))
            .where(Contact.id.in_(chunk), Contact.company_id.is_not(None))
            .with_only_columns(Contact.id, Contact.company_id)
        )
        out.update({row.id: row.company_id for row in session.execute(stmt)})
    return out


def company_sizes(
    session: Session, organization_id: uuid.UUID, company_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    out: dict[uuid.UUID, int] = {}
    for chunk in _chunks(list(set(company_ids))):
        stmt = (
            contacts.visible(_system(organization_id))
            .where(Contact.company_id.in_(chunk))
            .with_only_columns(Contact.company_id, func.count())
            .group_by(Contact.company_id)
        )
        out.update({row[0]: int(row[1]) for row in session.execute(stmt) if row[0]})
    return out


def small_company_members(
    session: Session, organization_id: uuid.UUID, max_size: int
) -> Iterator[list[uuid.UUID]]:
    """Live contacts of each company with 2..``max_size`` live contacts."""
    base = contacts.visible(_system(organization_id)).where(Contact.company_id.is_not(None))
    sizes = (
        base.with_only_columns(Contact.company_id)
        .group_by(Contact.company_id)
        .having(func.count() >= 2, func.count() <= max_size)
    )
    small = sizes.subquery()
    stmt = (
        base.with_only_columns(Contact.company_id, Contact.id)
        .where(Contact.company_id.in_(select(small.c.company_id)))
        .order_by(Contact.company_id, Contact.id)
    )
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for company_id, contact_id in session.execute(stmt):
        if company_id is not None:
            members[company_id].append(contact_id)
    yield from members.values()


def _chunks(ids: Sequence[uuid.UUID], size: int = 500) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def all_contacts_subquery(organization_id: uuid.UUID) -> Any:
    """``SELECT id`` of every contact of the organization, trashed ones included."""
    return scoped(Contact, Principal.system(organization_id)).with_only_columns(Contact.id)
