"""Walks every route of the OpenAPI document that takes an id and proves that
another organization's ids answer 404 — to the most privileged caller (an ADMIN)
— and that nothing of the other organization changes.

Request bodies come from each body schema's ``examples``; a route with a body and
no example fails the walk (add ``json_schema_extra={"examples": [...]}``)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Factory, Tenant
from tests.tenant_resources import READ_BACK, RESOURCE_FACTORIES

PARAM = re.compile(r"\{([^}]+)\}")
METHODS = ("get", "post", "put", "patch", "delete")


def _example_body(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    body = operation.get("requestBody")
    if not body:
        return None
    schema = body["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    examples = schema.get("examples")
    assert examples, f"{operation.get('operationId')}: body schema needs an example"
    return examples[0]


def _snapshot(client: TestClient, tenant: Tenant, ids: dict[str, str]) -> dict[str, Any]:
    seen = {}
    for param, record_id in ids.items():
        if param in READ_BACK:
            response = client.get(
                READ_BACK[param].format(id=record_id), headers=tenant.admin.headers
            )
            assert response.status_code == 200, response.text
            seen[param] = response.json()
    return seen


def test_other_organizations_ids_are_404_on_every_route(
    app: FastAPI, client: TestClient, factory: Factory
) -> None:
    spec = app.openapi()
    mine, theirs = factory.tenant("Mine"), factory.tenant("Theirs")
    routes = [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and PARAM.search(path)
    ]
    params = {p for path, _, _ in routes for p in PARAM.findall(path)}
    missing = params - set(RESOURCE_FACTORIES)
    assert not missing, f"add these path parameters to tests/tenant_resources.py: {missing}"
    assert routes, "no route takes an id?"

    their_ids = {p: RESOURCE_FACTORIES[p](client, theirs) for p in params}
    before = _snapshot(client, theirs, their_ids)
    checked = 0
    for path, method, operation in routes:
        names = PARAM.findall(path)
        body = _example_body(spec, operation)
        # Every id foreign at once, then each one foreign among the caller's own ids.
        variants = [dict.fromkeys(names, "theirs")]
        if len(names) > 1:
            variants += [
                {n: ("theirs" if n == foreign else "mine") for n in names} for foreign in names
            ]
        for variant in variants:
            values = {
                n: their_ids[n] if side == "theirs" else RESOURCE_FACTORIES[n](client, mine)
                for n, side in variant.items()
            }
            url = PARAM.sub(lambda m, v=values: v[m.group(1)], path)  # type: ignore[misc]
            response = client.request(
                method.upper(),
                url,
                headers=mine.admin.headers,
                json=body if body is not None else None,
            )
            assert response.status_code == 404, (
                f"{method.upper()} {path} with {variant} → {response.status_code}: {response.text}"
            )
            assert response.json()["error"]["code"] == "NOT_FOUND"
            checked += 1
    assert checked >= len(routes)
    assert _snapshot(client, theirs, their_ids) == before, "another tenant's data changed"
