"""Helpers of the contact tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Factory, Member, Tenant

CONTACTS = "/api/v1/contacts"


@pytest.fixture
def tenant(factory: Factory) -> Tenant:
    return factory.tenant()


@pytest.fixture
def create(client: TestClient, tenant: Tenant) -> Callable[..., dict[str, Any]]:
    """POST a contact (as the tenant's admin unless ``as_`` is given); 201 expected."""

    def make(as_: Member | None = None, expect: int = 201, **body: Any) -> dict[str, Any]:
        member = as_ or tenant.admin
        response = client.post(CONTACTS, json=body, headers=member.headers)
        assert response.status_code == expect, response.text
        return dict(response.json())

    return make
