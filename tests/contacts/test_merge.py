"""Merge and undo: properties over generated contacts, and the HTTP flow."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, Uuid, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.contacts import merge, service
from kith.contacts.models import Contact, ContactEmail, ContactPhone, ContactTag
from kith.contacts.references import REFERENCES, ColumnReference, register_reference
from kith.contacts.rows import row_state
from kith.contacts.schemas import ContactIn, MergeIn
from tests.assertions import assert_envelope
from tests.conftest import TransactionalDatabase
from tests.contacts.conftest import CONTACTS
from tests.factories import Factory, Tenant


class _TestBase(DeclarativeBase):
    pass


class Note(_TestBase):
    """A record of another domain that points at a contact (test-only table)."""

    __tablename__ = "test_merge_notes"
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    body: Mapped[str] = mapped_column(String(50))


@pytest.fixture
def notes(db: TransactionalDatabase) -> Iterator[None]:
    Note.__table__.create(db.connection, checkfirst=True)
    register_reference(ColumnReference("test_notes", Note, Note.contact_id))
    yield
    REFERENCES.pop("test_notes", None)


EMAILS = st.sampled_from([f"{n}@acme.example" for n in ("ada", "bob", "cy", "di", "ed")])
PHONES = st.sampled_from(["+14155552671", "+442079460958", "+33142685300", "+4930901820"])
TAGS = st.sampled_from(["vip", "VIP", "lead", "Partner", "cold"])
CONTACT = st.fixed_dictionaries(
    {
        "firstName": st.sampled_from(["Ada", "Bob", ""]),
        "lastName": st.sampled_from(["Lovelace", "Smith", ""]),
        "emails": st.lists(EMAILS, max_size=3, unique=True),
        "phones": st.lists(PHONES, max_size=2, unique=True),
        "tags": st.lists(TAGS, max_size=3),
        "position": st.sampled_from([None, "CTO", "Engineer"]),
        "leadScore": st.integers(0, 100),
        "notes": st.integers(0, 2),
    }
)


def _rows(db: TransactionalDatabase, org: uuid.UUID) -> dict[str, Any]:
    """Every row of the organization's contacts, byte for byte."""
    with db.transaction() as session:
        out: dict[str, Any] = {}
        for model in (Contact, ContactEmail, ContactPhone, ContactTag, Note):
            rows = session.execute(select(model).where(model.organization_id == org)).scalars()
            out[model.__tablename__] = sorted(
                (row_state(r) for r in rows), key=lambda r: sorted(map(str, r.items()))
            )
        return out


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(people=st.lists(CONTACT, min_size=2, max_size=4))
def test_merge_keeps_everything_and_undo_restores_byte_identical_rows(
    db: TransactionalDatabase, factory: Factory, notes: None, people: list[dict[str, Any]]
) -> None:
    tenant = factory.tenant()
    principal = Principal(tenant.organization_id, tenant.admin.user_id, Role.ADMIN)
    ids = []
    with db.transaction() as session:
        for person in people:
            data = ContactIn(
                firstName=person["firstName"],
                lastName=person["lastName"],
                emails=[{"email": e} for e in person["emails"]],
                phones=[{"number": p} for p in person["phones"]],
                tags=person["tags"],
                position=person["position"],
                leadScore=person["leadScore"],
            )
            details, _ = service.create_contact(
                session, principal, data, region="US", on_duplicate="create"
            )
            ids.append(details.contact.id)
            session.add_all(
                Note(
                    organization_id=tenant.organization_id,
                    contact_id=details.contact.id,
                    body=f"n{i}",
                )
                for i in range(person["notes"])
            )
    before = _rows(db, tenant.organization_id)
    with db.transaction() as session:
        record, merged = merge.merge_contacts(
            session, principal, MergeIn(primaryId=ids[0], duplicateIds=ids[1:])
        )
        merge_id = record.id
        out = service.to_out(merged)
    # Nothing is lost: every email, phone, tag (case-insensitively) and note.
    assert {e.email for e in out.emails} == {e for p in people for e in p["emails"]}
    assert {p.number for p in out.phones} == {n for p in people for n in p["phones"]}
    assert {t.casefold() for t in out.tags} == {t.casefold() for p in people for t in p["tags"]}
    with db.transaction() as session:
        note_owners = set(
            session.execute(
                select(Note.contact_id).where(Note.organization_id == tenant.organization_id)
            ).scalars()
        )
    assert note_owners <= {ids[0]}
    assert sum(p["notes"] for p in people) == len(before["test_merge_notes"])
    with db.transaction() as session:
        merge.undo_merge(session, principal, merge_id)
    assert _rows(db, tenant.organization_id) == before


def test_merge_and_undo_over_http(client: TestClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    a = client.post(
        CONTACTS, json={"firstName": "Ada", "email": "ada@acme.example", "tags": ["vip"]}, headers=h
    ).json()
    b = client.post(
        CONTACTS,
        json={
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada.l@acme.example",
            "position": "CTO",
            "phone": "+14155552671",
            "tags": ["partner"],
        },
        headers=h,
    ).json()
    before = {c["id"]: client.get(f"{CONTACTS}/{c['id']}", headers=h).json() for c in (a, b)}
    merged = client.post(
        f"{CONTACTS}/merge",
        json={
            "primaryId": a["id"],
            "duplicateIds": [b["id"]],
            "fieldChoices": {"firstName": b["id"]},
        },
        headers=h,
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    contact = body["contact"]
    assert [e["email"] for e in contact["emails"]] == ["ada@acme.example", "ada.l@acme.example"]
    assert contact["phone"] == "+14155552671"
    assert (contact["lastName"], contact["position"]) == ("Lovelace", "CTO")  # filled in
    assert contact["tags"] == ["vip", "partner"]
    assert_envelope(client.get(f"{CONTACTS}/{b['id']}", headers=h), 404)
    assert client.get(f"{CONTACTS}/merges/{body['id']}", headers=h).json()["undoneAt"] is None
    timeline = client.get(f"{CONTACTS}/{a['id']}/timeline", headers=h).json()
    assert timeline["data"][0]["summary"] == "Merged with duplicates"

    undone = client.post(f"{CONTACTS}/merges/{body['id']}/undo", headers=h)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undoneAt"] is not None
    after = {i: client.get(f"{CONTACTS}/{i}", headers=h).json() for i in before}
    assert after == before
    again = client.post(f"{CONTACTS}/merges/{body['id']}/undo", headers=h)
    assert_envelope(again, 409, "MERGE_UNDONE")


def test_merge_refuses_what_the_caller_may_not_touch(client: TestClient, tenant: Tenant) -> None:
    rep, other = tenant.member(Role.SALES_REP), tenant.member(Role.SALES_REP)
    mine = client.post(CONTACTS, json={"firstName": "M"}, headers=rep.headers).json()
    theirs = client.post(CONTACTS, json={"firstName": "T"}, headers=other.headers).json()
    response = client.post(
        f"{CONTACTS}/merge",
        json={"primaryId": mine["id"], "duplicateIds": [theirs["id"]]},
        headers=rep.headers,
    )
    assert_envelope(response, 404, "NOT_FOUND")
    same = client.post(
        f"{CONTACTS}/merge",
        json={"primaryId": mine["id"], "duplicateIds": [mine["id"]]},
        headers=rep.headers,
    )
    assert_envelope(same, 422, "VALIDATION_ERROR")
    viewer = tenant.member(Role.VIEWER)
    denied = client.post(
        f"{CONTACTS}/merge",
        json={"primaryId": mine["id"], "duplicateIds": [theirs["id"]]},
        headers=viewer.headers,
    )
    assert_envelope(denied, 403, "FORBIDDEN")
