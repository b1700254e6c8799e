"""How to make a record of each kind a route can take by id, for the tenant-isolation
walk in test_tenant_isolation.py. Each domain adds its path parameters here when it
adds routes: ``{"contact_id": make_contact, ...}``. The walk fails on a path
parameter with no entry, so no route escapes the check."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from kith.graph.analytics_store import compute_and_store
from kith.jobs.models import Job
from tests.factories import Tenant


def _user(client: TestClient, tenant: Tenant) -> str:
    return str(tenant.member().user_id)


def _team(client: TestClient, tenant: Tenant) -> str:
    return str(tenant.team(tenant.admin))


def _job(client: TestClient, tenant: Tenant) -> str:
    with tenant.factory.database.transaction() as session:
        job = Job(
            organization_id=tenant.organization_id,
            type="isolation.probe",
            created_by=tenant.admin.user_id,
        )
        session.add(job)
        session.flush()
        return str(job.id)


def _api_key(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        "/api/v1/api-keys",
        json={"name": "isolation", "role": "VIEWER"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _webhook(client: TestClient, tenant: Tenant) -> str:
    # A public literal address: passes the SSRF guard with no DNS and no allow-list.
    response = client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.215.14/kith-isolation"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _webhook_delivery(client: TestClient, tenant: Tenant) -> str:
    webhook_id = _webhook(client, tenant)
    response = client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=tenant.admin.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _contact(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        "/api/v1/contacts",
        json={"firstName": "Iso", "email": f"iso-{uuid.uuid4().hex[:8]}@acme.example"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _company(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        "/api/v1/companies",
        json={"name": f"Iso {uuid.uuid4().hex[:6]}"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _merge(client: TestClient, tenant: Tenant) -> str:
    a, b = _contact(client, tenant), _contact(client, tenant)
    response = client.post(
        "/api/v1/contacts/merge",
        json={"primaryId": a, "duplicateIds": [b]},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _custom_field(client: TestClient, tenant: Tenant) -> str:
    key = f"iso_{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/api/v1/contacts/custom-fields",
        json={"key": key, "label": "Iso", "type": "TEXT"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return key


def _duplicate_pair(client: TestClient, tenant: Tenant) -> str:
    tag = uuid.uuid4().hex[:6]
    for first, email in (
        ("William", f"william.{tag}@acme.example"),
        ("Bill", f"bill.{tag}@home.example"),
    ):
        response = client.post(
            "/api/v1/contacts",
            json={
                "firstName": first,
                "lastName": f"Pairson{tag}",
                "email": email,
                "birthday": "1980-05-01",
            },
            headers=tenant.admin.headers,
        )
        assert response.status_code == 201, response.text
    pairs = client.get("/api/v1/contacts/duplicates", headers=tenant.admin.headers).json()
    assert pairs["data"], "the two contacts should make a duplicate pair"
    return str(pairs["data"][0]["id"])


def _graph_people(client: TestClient, tenant: Tenant) -> tuple[str, str]:
    a, b = _contact(client, tenant), _contact(client, tenant)
    response = client.post(
        "/api/v1/graph/relationships",
        json={"fromId": a, "toId": b, "type": "FRIEND", "strength": 0.8},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return a, str(response.json()["id"])


def _relationship(client: TestClient, tenant: Tenant) -> str:
    return _graph_people(client, tenant)[1]


def _community(client: TestClient, tenant: Tenant) -> str:
    _graph_people(client, tenant)
    compute_and_store(tenant.factory.database, tenant.organization_id, lambda *_: None, job_id=None)
    response = client.get("/api/v1/graph/communities", headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"], "a related pair should make a community"
    return str(response.json()["data"][0]["id"])


def _introduction(client: TestClient, tenant: Tenant) -> str:
    rep = tenant.member()
    via = client.post(
        "/api/v1/contacts",
        json={"firstName": "Via", "email": f"via-{uuid.uuid4().hex[:8]}@acme.example"},
        headers=rep.headers,
    ).json()["id"]
    target = _contact(client, tenant)
    response = client.post(
        "/api/v1/graph/relationships",
        json={"fromId": via, "toId": target, "strength": 0.6},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        "/api/v1/graph/introduce",
        json={"targetId": target, "viaId": via, "message": "Please introduce me"},
        headers=tenant.admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# path parameter name → factory returning the id of a fresh record in ``tenant``
RESOURCE_FACTORIES: dict[str, Callable[[TestClient, Tenant], str]] = {
    "user_id": _user,
    "team_id": _team,
    "key_id": _api_key,
    "webhook_id": _webhook,
    "delivery_id": _webhook_delivery,
    "job_id": _job,
    "contact_id": _contact,
    "company_id": _company,
    "merge_id": _merge,
    "field_key": _custom_field,
    "pair_id": _duplicate_pair,
    "relationship_id": _relationship,
    "community_id": _community,
    "introduction_id": _introduction,
}

# GET routes that show a record of each kind to its own organization, used to prove
# the other organization's records are unchanged after the walk.
READ_BACK: dict[str, str] = {
    "user_id": "/api/v1/users/{id}",
    "team_id": "/api/v1/teams/{id}",
    "webhook_id": "/api/v1/webhooks/{id}",
    "job_id": "/api/v1/jobs/{id}",
    "contact_id": "/api/v1/contacts/{id}",
    "company_id": "/api/v1/companies/{id}",
    "merge_id": "/api/v1/contacts/merges/{id}",
    "relationship_id": "/api/v1/graph/relationships/{id}",
    "introduction_id": "/api/v1/graph/introductions/{id}",
}
