"""The scoped-query helper: organization first, then the record rule of the role."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.auth.scoping import OwnedMixin, get_for_write, get_scoped, if_match_var, scoped
from kith.errors import Forbidden, NotFound, PreconditionFailed
from tests.conftest import TransactionalDatabase
from tests.factories import Factory


class _TestBase(DeclarativeBase):
    pass


class Note(OwnedMixin, _TestBase):
    """An owned record type that exists only in this test (own metadata)."""

    __tablename__ = "test_scoped_notes"
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(default=1)


@pytest.fixture
def world(db: TransactionalDatabase, factory: Factory) -> dict[str, object]:
    Note.__table__.create(db.connection)  # rolled back with the test's transaction
    acme, other = factory.tenant(), factory.tenant()
    rep_a, rep_b = acme.member(Role.SALES_REP), acme.member(Role.SALES_REP)
    manager = acme.member(Role.SALES_MANAGER)
    team = acme.team(manager, rep_a)
    notes = {}
    with db.transaction() as session:
        for label, org, owner in [
            ("a", acme.organization_id, rep_a.user_id),
            ("b", acme.organization_id, rep_b.user_id),
            ("m", acme.organization_id, manager.user_id),
            ("x", other.organization_id, other.admin.user_id),
        ]:
            note = Note(organization_id=org, owner_id=owner, title=label)
            session.add(note)
            session.flush()
            notes[label] = note.id

    def principal(member, role, teams=frozenset()):  # type: ignore[no-untyped-def]
        return Principal(acme.organization_id, member.user_id, role, frozenset(teams))

    return {
        "notes": notes,
        "rep_a": principal(rep_a, Role.SALES_REP, {team}),
        "rep_b": principal(rep_b, Role.SALES_REP),
        "manager": principal(manager, Role.SALES_MANAGER, {team}),
        "viewer": principal(acme.member(Role.VIEWER), Role.VIEWER),
        "admin": principal(acme.admin, Role.ADMIN),
        "marketing": principal(acme.member(Role.MARKETING_MANAGER), Role.MARKETING_MANAGER),
    }


def _titles(db: TransactionalDatabase, principal: Principal) -> set[str]:
    with db.transaction() as session:
        return {n.title for n in session.execute(scoped(Note, principal)).scalars()}


def test_each_role_sees_exactly_its_records(db: TransactionalDatabase, world: dict) -> None:
    assert _titles(db, world["rep_a"]) == {"a"}
    assert _titles(db, world["rep_b"]) == {"b"}
    assert _titles(db, world["manager"]) == {"a", "m"}  # own + teammates, not rep_b
    for role in ("viewer", "admin", "marketing"):
        assert _titles(db, world[role]) == {"a", "b", "m"}  # never the other org's "x"


def test_records_outside_scope_are_not_found(db: TransactionalDatabase, world: dict) -> None:
    notes = world["notes"]
    with db.transaction() as session:
        assert get_scoped(session, Note, notes["a"], world["rep_a"]).title == "a"
        for label in ("b", "m", "x"):
            with pytest.raises(NotFound):
                get_scoped(session, Note, notes[label], world["rep_a"])
        with pytest.raises(NotFound):
            get_scoped(session, Note, notes["x"], world["admin"])


def test_writes_need_edit_permission_and_a_matching_version(
    db: TransactionalDatabase, world: dict
) -> None:
    notes = world["notes"]
    with db.transaction() as session:
        with pytest.raises(Forbidden):
            get_for_write(session, Note, notes["a"], world["viewer"])
        assert get_for_write(session, Note, notes["a"], world["rep_a"]).title == "a"
        token = if_match_var.set('"7"')
        try:
            with pytest.raises(PreconditionFailed):
                get_for_write(session, Note, notes["a"], world["manager"])
        finally:
            if_match_var.reset(token)
        token = if_match_var.set('W/"1"')  # weak tags never match If-Match
        try:
            with pytest.raises(PreconditionFailed):
                get_for_write(session, Note, notes["a"], world["manager"])
        finally:
            if_match_var.reset(token)
        token = if_match_var.set('"3", "1"')
        try:
            assert get_for_write(session, Note, notes["a"], world["manager"]).title == "a"
        finally:
            if_match_var.reset(token)
