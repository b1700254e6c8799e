"""Contacts over HTTP: create/read/update/delete, duplicates, RBAC, companies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from kith.audit.models import AuditEntry
from kith.auth.roles import Role
from kith.contacts.models import Contact, ContactPhone
from kith.events.models import OutboxEvent
from tests.assertions import assert_envelope
from tests.conftest import TransactionalDatabase
from tests.contacts.conftest import CONTACTS
from tests.factories import Tenant

Create = Callable[..., dict[str, Any]]


def _count(db: TransactionalDatabase) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Contact)).scalar_one())


def test_seed_003_create_contact_integration(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    # Arrange
    contact_data = {
        "firstName": "John",
        "lastName": "Doe",
        "email": "john.doe@example.com",
        "company": "TechCorp",
    }
    # Act
    response = client.post(CONTACTS, json=contact_data, headers=tenant.admin.headers)
    # Assert
    assert response.status_code == 201
    created_contact = response.json()
    assert created_contact["email"] == contact_data["email"]
    assert created_contact["leadScore"] >= 0
    # Verify database persistence
    with db.transaction() as session:
        db_contact = session.execute(
            select(Contact).where(Contact.email == contact_data["email"])
        ).scalar_one_or_none()
        assert db_contact is not None
        assert db_contact.first_name == "John"
        assert db_contact.company_name == "TechCorp"
    assert created_contact["companyId"] is not None
    assert created_contact["possibleDuplicates"] == []


def test_create_normalizes_and_echoes_every_field(create: Create) -> None:
    body = create(
        fullName="Dr. Ada M. Lovelace",
        emails=[
            {"email": "Ada@Example.COM", "label": "work"},
            {"email": "ada@home.example", "primary": True},
        ],
        phones=[{"number": "+44 20 7946 0958", "label": "office"}],
        position="  Chief   Analyst ",
        tags=["VIP", "vip", "prospect"],
        addresses=[{"city": "London", "country": "GB", "postcode": "sw1a 1aa"}],
        birthday="1815-12-10",
        socialProfiles={"LinkedIn": "linkedin.com/in/ada"},
        metadata={"campaign": "spring", "referrer": "qr"},
        status="PROSPECT",
        leadScore=42,
        expect=422,
    )
    assert body["error"]["details"][0]["field"] == "birthday"  # 1815 is before 1900
    body = create(
        fullName="Dr. Ada M. Lovelace",
        emails=[
            {"email": "Ada@Example.COM", "label": "work"},
            {"email": "ada@home.example", "primary": True},
        ],
        phones=[{"number": "+44 20 7946 0958", "label": "office"}],
        position="  Chief   Analyst ",
        tags=["VIP", "vip", "prospect"],
        addresses=[{"city": "London", "country": "GB", "postcode": "sw1a 1aa"}],
        birthday="1985-12-10",
        socialProfiles={"LinkedIn": "linkedin.com/in/ada"},
        metadata={"campaign": "spring", "referrer": "qr"},
        status="PROSPECT",
        leadScore=42,
    )
    assert (body["firstName"], body["lastName"], body["fullName"]) == (
        "Ada",
        "Lovelace",
        "Ada Lovelace",
    )
    assert body["email"] == "ada@home.example"
    assert body["emails"] == [
        {"email": "ada@home.example", "label": None, "primary": True},
        {"email": "ada@example.com", "label": "work", "primary": False},
    ]
    assert body["phone"] == "+442079460958"
    assert body["phones"][0]["label"] == "office"
    assert body["position"] == "Chief Analyst"
    assert body["tags"] == ["VIP", "prospect"]
    assert body["addresses"][0]["postcode"] == "SW1A 1AA"
    assert body["birthday"] == "1985-12-10"
    assert body["socialProfiles"]["linkedin"].startswith("https://linkedin.com/in/ada")
    assert body["metadata"] == {"campaign": "spring", "referrer": "qr"}
    assert (body["status"], body["leadScore"], body["version"]) == ("PROSPECT", 42, 1)


def test_bad_values_are_one_422_naming_each_field_and_nothing_is_written(
    create: Create, db: TransactionalDatabase
) -> None:
    before = _count(db)
    body = create(
        firstName="X",
        emails=[{"email": "not-an-email"}],
        phones=[{"number": "12"}],
        expect=422,
    )
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"emails.0.email", "phones.0.number"} <= fields
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert _count(db) == before
    unknown = create(firstName="X", favouriteColour="blue", expect=422)
    assert unknown["error"]["details"][0]["field"] == "favouriteColour"
    assert create(firstName="X", leadScore=101, expect=422)["error"]["code"] == "VALIDATION_ERROR"


def test_an_email_or_phone_already_held_is_a_409_unless_asked_otherwise(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    first = create(firstName="Ada", email="ada@acme.example", phone="+1 415 555 2671")
    again = client.post(
        CONTACTS, json={"firstName": "A", "email": "ADA@acme.example"}, headers=tenant.admin.headers
    )
    error = assert_envelope(again, 409, "DUPLICATE_CONTACT")
    assert error["details"]["existingId"] == first["id"]
    by_phone = client.post(
        CONTACTS, json={"firstName": "A", "phone": "(415) 555-2671"}, headers=tenant.admin.headers
    )
    assert assert_envelope(by_phone, 409, "DUPLICATE_CONTACT")["details"]["field"] == "phone"

    merged = client.post(
        f"{CONTACTS}?onDuplicate=merge",
        json={
            "email": "ada@acme.example",
            "emails": [{"email": "ada@acme.example"}, {"email": "ada@other.example"}],
            "tags": ["new"],
            "position": "CTO",
        },
        headers=tenant.admin.headers,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == first["id"]
    assert [e["email"] for e in merged.json()["emails"]] == [
        "ada@acme.example",
        "ada@other.example",
    ]
    assert merged.json()["position"] == "CTO"
    assert merged.json()["tags"] == ["new"]
    forced = client.post(
        f"{CONTACTS}?onDuplicate=create",
        json={"firstName": "Twin", "email": "ada@acme.example"},
        headers=tenant.admin.headers,
    )
    assert forced.status_code == 201
    assert forced.json()["id"] != first["id"]


def test_phones_are_encrypted_at_rest_and_found_by_blind_index(
    create: Create, db: TransactionalDatabase
) -> None:
    contact = create(
        firstName="P",
        phone="+1 415 555 2671",
        birthday="1990-02-28",
        addresses=[{"city": "Springfield", "country": "US"}],
    )
    with db.transaction() as session:
        raw = session.execute(
            text("SELECT phone, birthday, addresses FROM contacts WHERE email IS NULL")
        ).one()
        raw_phone = session.execute(text("SELECT number, number_index FROM contact_phones")).all()
    assert "4155552671" not in "".join(str(v) for v in raw)
    assert "1990" not in str(raw[1])
    assert "Springfield" not in str(raw[2])
    assert all("4155552671" not in str(value) for row in raw_phone for value in row)
    with db.transaction() as session:
        phone = session.execute(select(ContactPhone)).scalar_one()
        assert phone.number == "+14155552671"
    assert contact["phone"] == "+14155552671"


def test_company_by_name_and_by_email_domain(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    h = tenant.admin.headers
    acme = client.post(
        "/api/v1/companies", json={"name": "Acme", "domains": ["acme.example"]}, headers=h
    )
    assert acme.status_code == 201, acme.text
    linked = create(firstName="Ada", email="ada@acme.example")
    assert (linked["companyId"], linked["company"]) == (acme.json()["id"], "Acme")
    free = create(firstName="Bob", email="bob@gmail.com")
    assert free["companyId"] is None
    named = create(firstName="Cy", company="  acme ")
    assert named["companyId"] == acme.json()["id"]  # same company, not a new one
    refused = client.post(
        "/api/v1/companies", json={"name": "G", "domains": ["gmail.com"]}, headers=h
    )
    assert_envelope(refused, 422, "VALIDATION_ERROR")
    # A company created later links the existing contacts at its domain.
    early = create(firstName="Di", email="di@globex.example")
    globex = client.post(
        "/api/v1/companies", json={"name": "Globex", "domains": ["globex.example"]}, headers=h
    )
    assert (
        client.get(f"{CONTACTS}/{early['id']}", headers=h).json()["companyId"]
        == globex.json()["id"]
    )
    assert globex.json()["contactCount"] == 1
    listed = client.get(f"{CONTACTS}?companyId={acme.json()['id']}", headers=h).json()
    assert {c["firstName"] for c in listed["data"]} == {"Ada", "Cy"}


def test_a_rep_sees_and_changes_only_own_contacts(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    rep, other = tenant.member(Role.SALES_REP), tenant.member(Role.SALES_REP)
    mine = create(as_=rep, firstName="Mine", email="mine@acme.example")
    theirs = create(as_=other, firstName="Theirs", email="theirs@acme.example")
    assert mine["ownerId"] == str(rep.user_id)
    listed = client.get(CONTACTS, headers=rep.headers).json()
    assert [c["id"] for c in listed["data"]] == [mine["id"]]
    assert listed["totalCount"] == 1
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method,
            f"{CONTACTS}/{theirs['id']}",
            headers=rep.headers,
            json={"position": "x"} if method == "PATCH" else None,
        )
        assert_envelope(response, 404, "NOT_FOUND")
    # The duplicate check is organization-wide but does not reveal whose contact it is.
    dup = client.post(CONTACTS, json={"email": "theirs@acme.example"}, headers=rep.headers)
    error = assert_envelope(dup, 409, "DUPLICATE_CONTACT")
    assert "existingId" not in error["details"]
    steal = client.post(
        CONTACTS, json={"firstName": "S", "ownerId": str(other.user_id)}, headers=rep.headers
    )
    assert_envelope(steal, 403, "FORBIDDEN")
    handover = client.patch(
        f"{CONTACTS}/{mine['id']}", json={"ownerId": str(other.user_id)}, headers=rep.headers
    )
    assert_envelope(handover, 403, "FORBIDDEN")


def test_a_manager_sees_the_team_and_a_viewer_cannot_write(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    manager, rep, outsider = (
        tenant.member(Role.SALES_MANAGER),
        tenant.member(Role.SALES_REP),
        tenant.member(Role.SALES_REP),
    )
    tenant.team(manager, rep)
    team_contact = create(as_=rep, firstName="Team")
    create(as_=outsider, firstName="Outside")
    seen = {c["firstName"] for c in client.get(CONTACTS, headers=manager.headers).json()["data"]}
    assert seen == {"Team"}
    reassigned = client.patch(
        f"{CONTACTS}/{team_contact['id']}",
        json={"assignedTo": str(manager.user_id)},
        headers=manager.headers,
    )
    assert reassigned.json()["ownerId"] == str(manager.user_id)
    viewer = tenant.member(Role.VIEWER)
    assert client.get(f"{CONTACTS}/{team_contact['id']}", headers=viewer.headers).status_code == 200
    assert_envelope(client.post(CONTACTS, json={"firstName": "V"}, headers=viewer.headers), 403)
    assert_envelope(
        client.patch(
            f"{CONTACTS}/{team_contact['id']}", json={"position": "v"}, headers=viewer.headers
        ),
        403,
    )
    assert_envelope(client.delete(f"{CONTACTS}/{team_contact['id']}", headers=viewer.headers), 403)


def test_etag_and_if_match(client: TestClient, tenant: Tenant, create: Create) -> None:
    contact = create(firstName="E")
    url, h = f"{CONTACTS}/{contact['id']}", tenant.admin.headers
    etag = client.get(url, headers=h).headers["etag"]
    assert etag == '"1"'
    assert client.get(url, headers={**h, "If-None-Match": etag}).status_code == 304
    updated = client.patch(url, json={"position": "CEO"}, headers={**h, "If-Match": etag})
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    stale = client.patch(url, json={"position": "CFO"}, headers={**h, "If-Match": etag})
    assert_envelope(stale, 412, "PRECONDITION_FAILED")
    assert client.get(url, headers=h).json()["position"] == "CEO"
    unchanged = client.patch(url, json={"position": "CEO"}, headers=h)
    assert unchanged.json()["version"] == 2  # nothing changed, no new version


def test_soft_delete_restore_and_reuse_of_identities(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    h = tenant.admin.headers
    contact = create(firstName="Gone", email="gone@acme.example")
    assert client.delete(f"{CONTACTS}/{contact['id']}", headers=h).status_code == 204
    assert_envelope(client.get(f"{CONTACTS}/{contact['id']}", headers=h), 404)
    trash = client.get(f"{CONTACTS}/deleted", headers=h).json()
    assert [c["id"] for c in trash["data"]] == [contact["id"]]
    assert trash["data"][0]["deletedAt"] is not None
    restored = client.post(f"{CONTACTS}/{contact['id']}/restore", headers=h)
    assert restored.status_code == 200
    assert restored.json()["deletedAt"] is None
    assert client.delete(f"{CONTACTS}/{contact['id']}", headers=h).status_code == 204
    # A deleted contact's email is free again; restoring the old one then conflicts.
    create(firstName="New", email="gone@acme.example")
    conflict = client.post(f"{CONTACTS}/{contact['id']}/restore", headers=h)
    assert_envelope(conflict, 409, "DUPLICATE_CONTACT")


def test_list_filters_sort_and_cursor(client: TestClient, tenant: Tenant, create: Create) -> None:
    h = tenant.admin.headers
    for i, (status, score, tags) in enumerate(
        [
            ("LEAD", 10, ["a"]),
            ("CUSTOMER", 90, ["a", "b"]),
            ("LEAD", 50, ["b"]),
            ("PROSPECT", 70, []),
            ("CUSTOMER", 30, ["a"]),
        ]
    ):
        create(firstName=f"P{i}", lastName="Zed", status=status, leadScore=score, tags=tags)

    def names(query: str) -> list[str]:
        response = client.get(f"{CONTACTS}?{query}", headers=h)
        assert response.status_code == 200, response.text
        return [c["firstName"] for c in response.json()["data"]]

    assert names("status=CUSTOMER") == ["P1", "P4"]
    assert names("status=CUSTOMER&status=PROSPECT&sort=-leadScore") == ["P1", "P3", "P4"]
    assert names("tag=a&tag=B") == ["P1"]
    assert names("leadScoreMin=50&sort=leadScore") == ["P2", "P3", "P1"]
    seen, cursor = [], None
    while True:
        query = "limit=2&sort=-leadScore" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"{CONTACTS}?{query}", headers=h).json()
        seen += [c["leadScore"] for c in page["data"]]
        cursor = page["pagination"]["nextCursor"]
        if not cursor:
            break
    assert seen == [90, 70, 50, 30, 10]
    assert_envelope(client.get(f"{CONTACTS}?sort=password", headers=h), 422, "VALIDATION_ERROR")


def test_custom_fields_are_validated_filtered_and_sensitive_ones_encrypted(
    client: TestClient, tenant: Tenant, create: Create, db: TransactionalDatabase
) -> None:
    h = tenant.admin.headers
    defs = [
        {"key": "industry", "label": "Industry", "type": "SELECT", "options": ["SaaS", "Retail"]},
        {"key": "seats", "label": "Seats", "type": "NUMBER"},
        {"key": "tax_id", "label": "Tax id", "type": "TEXT", "sensitive": True},
    ]
    for definition in defs:
        assert (
            client.post(f"{CONTACTS}/custom-fields", json=definition, headers=h).status_code == 201
        )
    ok = create(firstName="C", customFields={"industry": "SaaS", "seats": 12, "tax_id": "XY-99"})
    assert ok["customFields"] == {"industry": "SaaS", "seats": 12, "tax_id": "XY-99"}
    bad = create(firstName="D", customFields={"industry": "Mining", "nope": 1}, expect=422)
    assert {d["field"] for d in bad["error"]["details"]} == {
        "customFields.industry",
        "customFields.nope",
    }
    create(firstName="E", customFields={"industry": "Retail"})
    listed = client.get(f"{CONTACTS}?cf.industry=SaaS", headers=h).json()
    assert [c["firstName"] for c in listed["data"]] == ["C"]
    assert_envelope(client.get(f"{CONTACTS}?cf.tax_id=XY-99", headers=h), 422)
    with db.transaction() as session:
        raw = session.execute(text("SELECT custom_fields, sensitive_fields FROM contacts")).all()
    assert all("XY-99" not in str(value) for row in raw for value in row)
    rep = tenant.member(Role.SALES_REP)
    assert_envelope(
        client.post(f"{CONTACTS}/custom-fields", json=defs[0] | {"key": "x"}, headers=rep.headers),
        403,
    )


def test_timeline_and_events(
    client: TestClient, tenant: Tenant, create: Create, db: TransactionalDatabase
) -> None:
    h = tenant.admin.headers
    contact = create(firstName="T")
    client.patch(
        f"{CONTACTS}/{contact['id']}", json={"status": "CUSTOMER", "position": "VP"}, headers=h
    )
    client.patch(f"{CONTACTS}/{contact['id']}", json={"lastName": "Tee"}, headers=h)
    timeline = client.get(f"{CONTACTS}/{contact['id']}/timeline", headers=h).json()
    summaries = [item["summary"] for item in timeline["data"]]
    assert summaries[-1] == "Contact created"
    assert summaries[0] == "Changed fullName, lastName"
    assert "status" in summaries[1]
    assert timeline["data"][1]["data"]["changes"]["status"] == ["LEAD", "CUSTOMER"]
    assert timeline["totalCount"] == 3
    client.delete(f"{CONTACTS}/{contact['id']}", headers=h)
    with db.transaction() as session:
        events = (
            session.execute(
                select(OutboxEvent.event_type)
                .where(OutboxEvent.aggregate_id == contact["id"])
                .order_by(OutboxEvent.seq)
            )
            .scalars()
            .all()
        )
    assert events == ["contact.created", "contact.updated", "contact.updated", "contact.deleted"]


def test_timeline_pages_through_items_of_the_same_instant(
    client: TestClient, tenant: Tenant, create: Create, db: TransactionalDatabase
) -> None:
    """Changes recorded in one instant (a bulk update, an import) are split across pages
    by the cursor without skipping or repeating any of them."""
    h = tenant.admin.headers
    contact = create(firstName="Same", lastName="Instant")
    instant = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with db.transaction() as session:
        for n in range(7):
            session.add(
                AuditEntry(
                    organization_id=tenant.organization_id,
                    occurred_at=instant,
                    actor_type="user",
                    actor_id=tenant.admin.user_id,
                    action="contact.updated",
                    entity_type="contact",
                    entity_id=contact["id"],
                    changes={"position": [None, f"P{n}"]},
                )
            )
    url = f"{CONTACTS}/{contact['id']}/timeline"
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(url, params=params, headers=h)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["id"] for item in body["data"]]
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8  # the 7 changes and "Contact created"
    assert body["totalCount"] == 8
    # "Contact created" is newer than the back-dated changes; ``before`` starts the list
    # at an instant, leaving out that instant itself
    assert seen[0] not in set(seen[1:])
    after = (instant + timedelta(seconds=1)).isoformat()
    older = client.get(url, params={"before": after, "limit": 20}, headers=h).json()
    assert [item["id"] for item in older["data"]] == seen[1:]
    none = client.get(url, params={"before": instant.isoformat()}, headers=h).json()
    assert none["data"] == []
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=h)
    assert_envelope(bad, 422)
