"""The benchmark's contact generator and bulk loader (bench/contacts_data.py,
bench/contacts_load.py): generated rows are served correctly by the real API, on SQLite
and on PostgreSQL, and the indexes the loader drops come back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from bench.contacts_data import Generator
from bench.contacts_load import ensure_owners, load_contacts
from kith.app import create_app
from kith.contacts.models import BlockingKey, Contact, ContactEmail, ContactPhone, ContactTag
from kith.contacts.normalize import normalize_email, normalize_phone
from kith.db.engine import Database
from kith.search.models import SearchDocument
from kith.settings import Settings
from tests.cli.conftest import Installation, installation  # noqa: F401 - fixture
from tests.factories import Factory, Tenant

CONTACTS = "/api/v1/contacts"
COUNT = 1000


def _schema(engine: Engine) -> set[str]:
    """Every index, trigger and foreign key of the tables the loader writes."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT type || ':' || name || ':' || coalesce(sql, '') FROM sqlite_master"
                " WHERE type IN ('index', 'trigger')"
            )
            return set(rows.scalars())
        indexes = connection.exec_driver_sql(
            "SELECT indexname || ':' || indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema()"
        )
        keys = connection.exec_driver_sql(
            "SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f'"
        )
        return set(indexes.scalars()) | set(keys.scalars())


@pytest.fixture
def generated(
    live_settings: Settings, live_database: Database
) -> Iterator[tuple[TestClient, Tenant, Any, Engine]]:
    factory = Factory(live_database, live_settings)
    tenant = factory.tenant()
    engine = live_database.engine
    before = _schema(engine)
    owners = ensure_owners(engine, tenant.organization_id, 4)
    report, dataset = load_contacts(
        engine, tenant.organization_id, COUNT, owner_ids=owners, seed=11
    )
    assert report.rows["contacts"] == COUNT
    assert _schema(engine) == before  # indexes, FTS triggers and foreign keys are back
    app = create_app(live_settings, database=live_database)
    with TestClient(app) as client:
        yield client, tenant, dataset, engine


def test_generated_contacts_are_served_by_the_api(
    generated: tuple[TestClient, Tenant, Any, Engine],
) -> None:
    client, tenant, dataset, _ = generated
    headers = tenant.admin.headers
    assert len(dataset.samples) == 200
    for sample in dataset.samples[:25]:
        response = client.get(f"{CONTACTS}/{uuid.UUID(sample['id'])}", headers=headers)
        assert response.status_code == 200, response.text
        contact = response.json()
        assert contact["firstName"] == sample["firstName"]
        assert contact["lastName"] == sample["lastName"]
        assert contact["fullName"] == f"{sample['firstName']} {sample['lastName']}"
        assert [e["email"] for e in contact["emails"]] == sample["emails"]
        assert contact["email"] == sample["emails"][0]
        assert [p["number"] for p in contact["phones"]] == sample["phones"]  # decrypted
        assert contact["phone"] == (sample["phones"][0] if sample["phones"] else None)
        assert contact["company"] == sample["company"]
        company_id = sample["companyId"]
        assert contact["companyId"] == (str(uuid.UUID(company_id)) if company_id else None)
        assert contact["position"] == sample["position"]
        assert contact["status"] == sample["status"]
        assert contact["tags"] == sample["tags"]
        assert contact["ownerId"] == str(uuid.UUID(sample["ownerId"]))
        assert contact["version"] == 1
        assert contact["createdAt"] <= contact["updatedAt"]


def test_generated_contacts_are_found_by_search_and_filters(
    generated: tuple[TestClient, Tenant, Any, Engine],
) -> None:
    client, tenant, dataset, _ = generated
    headers = tenant.admin.headers
    rare = dataset.selective_surnames(5)
    assert rare
    for surname in rare:
        response = client.get(f"{CONTACTS}/search", params={"q": surname}, headers=headers)
        assert response.status_code == 200, response.text
        hits = response.json()["data"]
        exact = [hit for hit in hits if hit["lastName"].lower() == surname]
        assert len(exact) == dataset.rare_surnames[surname] >= 1
        assert all(hit["highlights"] for hit in hits)
        assert "<mark>" in exact[0]["highlights"]["title"]

    sample = next(s for s in dataset.samples if s["company"])
    by_email = client.get(f"{CONTACTS}/search", params={"q": sample["emails"][0]}, headers=headers)
    assert sample["id"] in {uuid.UUID(h["id"]).hex for h in by_email.json()["data"]}

    common = dataset.common_first_names(1)[0]
    page = client.get(f"{CONTACTS}/search", params={"q": common}, headers=headers).json()
    assert page["totalCount"] >= 5
    assert all(hit["highlights"] for hit in page["data"])
    assert any(hit["firstName"].lower() == common for hit in page["data"])

    listed = client.get(
        CONTACTS, params={"status": "CUSTOMER", "tag": "newsletter"}, headers=headers
    ).json()
    assert listed["totalCount"] > 0
    for contact in listed["data"]:
        assert contact["status"] == "CUSTOMER"
        assert "newsletter" in contact["tags"]
    everyone = client.get(CONTACTS, params={"limit": 100}, headers=headers).json()
    # A large list may count only up to a cap (then totalCountCapped says so).
    if everyone.get("totalCountCapped"):
        assert COUNT >= everyone["totalCount"] >= 100
    else:
        assert everyone["totalCount"] == COUNT
    names = [(c["lastName"].casefold(), c["firstName"].casefold()) for c in everyone["data"]]
    assert names == sorted(names)
    deeper = client.get(
        CONTACTS, params={"cursor": everyone["pagination"]["nextCursor"]}, headers=headers
    )
    assert deeper.status_code == 200
    assert deeper.json()["data"][0]["id"] not in {c["id"] for c in everyone["data"]}


def test_generated_emails_and_phones_count_as_duplicates(
    generated: tuple[TestClient, Tenant, Any, Engine],
) -> None:
    client, tenant, dataset, _ = generated
    sample = next(s for s in dataset.samples if s["phones"])
    taken_email = client.post(
        CONTACTS,
        json={"firstName": "Copy", "email": sample["emails"][-1]},
        headers=tenant.admin.headers,
    )
    assert taken_email.status_code == 409, taken_email.text
    assert taken_email.json()["error"]["details"]["existingId"] == str(uuid.UUID(sample["id"]))
    # The phone's blind index is the one the service computes.
    taken_phone = client.post(
        CONTACTS,
        json={"firstName": "Copy", "phone": sample["phones"][0]},
        headers=tenant.admin.headers,
    )
    assert taken_phone.status_code == 409, taken_phone.text
    assert taken_phone.json()["error"]["details"]["field"] == "phone"


def test_the_loader_writes_every_row_the_service_would(
    generated: tuple[TestClient, Tenant, Any, Engine],
) -> None:
    _, tenant, dataset, engine = generated
    from sqlalchemy.orm import Session

    with Session(engine) as session:

        def count(model: Any) -> int:
            stmt = select(func.count()).select_from(model)
            stmt = stmt.where(model.organization_id == tenant.organization_id)
            return int(session.execute(stmt).scalar_one())

        assert count(Contact) == COUNT
        assert count(SearchDocument) == COUNT
        assert count(ContactEmail) == dataset.emails
        assert count(ContactPhone) == dataset.phones
        assert count(ContactTag) == dataset.tags
        try:
            from kith.contacts import duplicates, service
            from kith.contacts.dedupe.blocking import blocking_keys
        except ImportError:  # the fuzzy duplicate package is not there yet
            return
        assert count(BlockingKey) == dataset.blocking_keys > 0
        contacts = session.execute(
            select(Contact)
            .where(Contact.organization_id == tenant.organization_id)
            .order_by(Contact.id)
            .limit(50)
        ).scalars()
        for details in service.details_of(session, list(contacts)):
            stored = session.execute(
                select(BlockingKey.key).where(
                    BlockingKey.organization_id == tenant.organization_id,
                    BlockingKey.contact_id == details.contact.id,
                )
            ).scalars()
            record = duplicates.record_of(details)
            assert set(stored) == {key[:120] for key in blocking_keys(record)}


def test_the_generator_is_deterministic_and_its_values_valid(live_settings: Settings) -> None:
    def rows(seed: int, processes: int = 1) -> list[Any]:
        generator = Generator(
            3000,
            organization_id=uuid.UUID(int=1),
            owner_ids=[uuid.UUID(int=2), uuid.UUID(int=3)],
            dialect="sqlite",
            seed=seed,
            encrypt=lambda plain: plain,  # comparable: ciphertexts use random nonces
            now=datetime(2026, 11, 23, tzinfo=UTC),
        )
        return [batch.tables() for batch in generator.batches(1000, processes=processes)]

    first, again, other = rows(5), rows(5), rows(6)
    assert first == again
    assert first != other
    # Workers make the same rows (emails stay unique in generation order).
    assert rows(5, processes=3) == first
    tables = [dict(batch) for batch in first]
    emails = [row[3] for batch in tables for row in batch["contact_emails"]]
    assert len(set(emails)) == len(emails)
    assert all(normalize_email(email) == email for email in emails)
    phones = [row[3] for batch in tables for row in batch["contact_phones"]]
    assert len(set(phones)) == len(phones)
    assert all(normalize_phone(number, "US") == number for number in phones)
    for code in ("+1", "+44", "+49", "+33"):
        assert sum(number.startswith(code) for number in phones) > 100
    created = [row[4] for batch in tables for row in batch["contacts"]]
    assert created == sorted(created)  # generation order is creation order


def test_kith_bench_generate(installation: Installation) -> None:  # noqa: F811
    assert installation.kith("migrate").exit_code == 0
    admin = installation.kith(
        "create-admin", "--email", "admin@bench.example", "--password", "correct horse battery"
    )
    assert admin.exit_code == 0, admin.output
    result = installation.kith(
        "bench", "generate", "--contacts", "500", "--no-blocking-keys", "--throwaway"
    )
    assert result.exit_code == 0, result.output
    assert "generated 500 contacts" in result.output
    again = installation.kith("bench", "generate", "--contacts", "300", "--owners", "2")
    assert again.exit_code == 0, again.output
    engine = Database.from_settings(Settings()).engine
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 800
            emails = connection.execute(text("SELECT email FROM contact_emails")).scalars().all()
            assert len(emails) == len(set(emails))  # the second run made other people
    finally:
        engine.dispose()
