"""Helpers of the graph tests: people and relationships made through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Factory, Member, Tenant

GRAPH = "/api/v1/graph"
CONTACTS = "/api/v1/contacts"


@dataclass
class World:
    client: TestClient
    tenant: Tenant

    def contact(self, name: str = "Ann", as_: Member | None = None, **body: Any) -> str:
        member = as_ or self.tenant.admin
        first, _, last = name.partition(" ")
        payload = {
            "firstName": first,
            "lastName": last or "Example",
            "email": f"{first.lower()}.{uuid.uuid4().hex[:8]}@example.org",
            **body,
        }
        response = self.client.post(CONTACTS, json=payload, headers=member.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def relate(
        self,
        a: str,
        b: str,
        strength: float | None = None,
        as_: Member | None = None,
        a_kind: str = "CONTACT",
        b_kind: str = "CONTACT",
        **body: Any,
    ) -> dict[str, Any]:
        member = as_ or self.tenant.admin
        payload: dict[str, Any] = {
            "fromId": a,
            "fromKind": a_kind,
            "toId": b,
            "toKind": b_kind,
            **body,
        }
        if strength is not None:
            payload["strength"] = strength
        response = self.client.post(f"{GRAPH}/relationships", json=payload, headers=member.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, path: str, as_: Member | None = None, **params: Any) -> Any:
        member = as_ or self.tenant.admin
        return self.client.get(f"{GRAPH}{path}", params=params, headers=member.headers)


@pytest.fixture
def tenant(factory: Factory) -> Tenant:
    return factory.tenant()


@pytest.fixture
def world(client: TestClient, tenant: Tenant) -> World:
    return World(client, tenant)
