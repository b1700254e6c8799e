"""Fuzzy duplicates: possibleDuplicates on create, the review queue, the scan job."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from kith.auth.roles import Role
from kith.contacts.models import BlockingKey, DuplicatePair
from kith.jobs.models import JobState
from kith.jobs.queue import JobQueue
from kith.settings import Settings
from tests.assertions import assert_envelope
from tests.conftest import TransactionalDatabase
from tests.contacts.conftest import CONTACTS
from tests.factories import Tenant

Create = Callable[..., dict[str, Any]]
WILLIAM = {
    "firstName": "William",
    "lastName": "Smith",
    "email": "william.smith@acme.example",
    "birthday": "1980-05-01",
    "addresses": [{"city": "Boston", "country": "US"}],
}
BILL = {
    "firstName": "Bill",
    "lastName": "Smith",
    "email": "bill@home.example",
    "birthday": "1980-05-01",
    "addresses": [{"city": "Boston", "country": "US"}],
}
WENDY = {
    "firstName": "Wendy",
    "lastName": "Smythe",
    "email": "wendy@other.example",
    "birthday": "1975-02-11",
    "addresses": [{"city": "Denver", "country": "US"}],
}


def test_a_likely_duplicate_is_reported_on_create_and_queued(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    william = create(**WILLIAM)
    assert william["possibleDuplicates"] == []
    bill = create(**BILL)
    [hit] = bill["possibleDuplicates"]
    assert hit["id"] == william["id"]
    assert hit["fullName"] == "William Smith"
    assert 0.5 <= hit["score"] <= 1
    assert any("nickname" in reason for reason in hit["reasons"]), hit["reasons"]
    assert create(**WENDY)["possibleDuplicates"] == []

    queue = client.get(f"{CONTACTS}/duplicates", headers=tenant.admin.headers).json()
    [pair] = queue["data"]
    assert set(pair["contactIds"]) == {william["id"], bill["id"]}
    assert pair["status"] == "OPEN"
    shown = client.get(f"{CONTACTS}/{william['id']}", headers=tenant.admin.headers).json()
    assert [d["id"] for d in shown["possibleDuplicates"]] == [bill["id"]]


def test_a_candidate_changed_since_it_was_last_compared_is_compared_as_it_is_now(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    # Candidates' match records are cached between creates: a change must show at once.
    william = create(**WILLIAM)
    [hit] = create(**BILL)["possibleDuplicates"]
    assert hit["id"] == william["id"]
    moved = client.patch(
        f"{CONTACTS}/{william['id']}",
        json={"birthday": "1991-09-23", "addresses": [{"city": "Seattle", "country": "US"}]},
        headers=tenant.admin.headers,
    )
    assert moved.status_code == 200, moved.text
    again = create(**{**BILL, "email": "bill.smith@home.example"})
    assert william["id"] not in {d["id"] for d in again["possibleDuplicates"]}


def test_a_dismissed_pair_is_never_proposed_again(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    h = tenant.admin.headers
    create(**WILLIAM)
    bill = create(**BILL)
    pair = client.get(f"{CONTACTS}/duplicates", headers=h).json()["data"][0]
    dismissed = client.post(f"{CONTACTS}/duplicates/{pair['id']}/dismiss", headers=h)
    assert dismissed.json()["status"] == "DISMISSED"
    assert client.get(f"{CONTACTS}/duplicates", headers=h).json()["data"] == []
    again = client.patch(f"{CONTACTS}/{bill['id']}", json={"position": "CTO"}, headers=h)
    assert again.json()["possibleDuplicates"] == []
    assert client.get(f"{CONTACTS}/duplicates", headers=h).json()["totalCount"] == 0
    assert_envelope(client.post(f"{CONTACTS}/duplicates/{pair['id']}/dismiss", headers=h), 409)


def test_merge_from_the_queue(client: TestClient, tenant: Tenant, create: Create) -> None:
    h = tenant.admin.headers
    william = create(**WILLIAM)
    create(**BILL)
    pair = client.get(f"{CONTACTS}/duplicates", headers=h).json()["data"][0]
    merged = client.post(f"{CONTACTS}/duplicates/{pair['id']}/merge", headers=h)
    assert merged.status_code == 200, merged.text
    assert merged.json()["primaryId"] == william["id"]  # the older one is kept
    emails = [e["email"] for e in merged.json()["contact"]["emails"]]
    assert emails == ["william.smith@acme.example", "bill@home.example"]
    # The merged pair's second contact is in the trash, so the pair is not listed.
    assert client.get(f"{CONTACTS}/duplicates?status=MERGED", headers=h).json()["totalCount"] == 0


def test_a_rep_sees_only_pairs_of_own_contacts(
    client: TestClient, tenant: Tenant, create: Create
) -> None:
    rep, other = tenant.member(Role.SALES_REP), tenant.member(Role.SALES_REP)
    create(as_=rep, **WILLIAM)
    theirs = create(as_=other, **BILL)
    # The other rep's new contact resembles one the rep owns: not shown to the other.
    assert theirs["possibleDuplicates"] == []
    assert client.get(f"{CONTACTS}/duplicates", headers=rep.headers).json()["data"] == []
    assert client.get(f"{CONTACTS}/duplicates", headers=other.headers).json()["data"] == []
    assert (
        client.get(f"{CONTACTS}/duplicates", headers=tenant.admin.headers).json()["totalCount"] == 1
    )


def test_the_background_scan_finds_pairs_the_index_missed(
    client: TestClient,
    tenant: Tenant,
    create: Create,
    db: TransactionalDatabase,
    settings: Settings,
) -> None:
    h = tenant.admin.headers
    william, bill = create(**WILLIAM), create(**BILL)
    create(**WENDY)
    with db.transaction() as session:  # as if imported in bulk without an index
        session.execute(delete(DuplicatePair))
        session.execute(delete(BlockingKey))
    started = client.post(f"{CONTACTS}/duplicates/scan", headers=h)
    assert started.status_code == 202
    job_id = started.json()["jobId"]
    assert JobQueue(settings, db).run(_uuid(job_id)) is JobState.SUCCEEDED
    job = client.get(f"/api/v1/jobs/{job_id}", headers=h).json()
    assert job["result"]["contacts"] == 3
    assert job["result"]["pairsQueued"] == 1
    [pair] = client.get(f"{CONTACTS}/duplicates", headers=h).json()["data"]
    assert set(pair["contactIds"]) == {william["id"], bill["id"]}


def test_the_scan_brings_stored_blocking_keys_up_to_the_current_rules(
    client: TestClient,
    tenant: Tenant,
    create: Create,
    db: TransactionalDatabase,
    settings: Settings,
) -> None:
    # Keys written under older rules (one missing, one no longer made) are rewritten,
    # so a contact created afterwards finds the old one through every current rule.
    william = create(**WILLIAM)
    wid = _uuid(william["id"])
    with db.transaction() as session:
        current = set(
            session.execute(select(BlockingKey.key).where(BlockingKey.contact_id == wid)).scalars()
        )
        dropped = sorted(current)[0]
        session.execute(
            delete(BlockingKey).where(BlockingKey.contact_id == wid, BlockingKey.key == dropped)
        )
        session.add(
            BlockingKey(organization_id=tenant.organization_id, key="old:rule", contact_id=wid)
        )
    started = client.post(f"{CONTACTS}/duplicates/scan", headers=tenant.admin.headers)
    job_id = started.json()["jobId"]
    assert JobQueue(settings, db).run(_uuid(job_id)) is JobState.SUCCEEDED
    job = client.get(f"/api/v1/jobs/{job_id}", headers=tenant.admin.headers).json()
    assert job["result"]["blockingKeysChanged"] == 2
    with db.transaction() as session:
        now = set(
            session.execute(select(BlockingKey.key).where(BlockingKey.contact_id == wid)).scalars()
        )
    assert now == current


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
