"""Bad input always answers with a 4xx error envelope, never a 500, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from tests.assertions import assert_envelope
from tests.conftest import TransactionalDatabase
from tests.factories import Tenant
from tests.http.conftest import TEAMS, AppFactory, count_teams

JSON = {"Content-Type": "application/json"}


def _post_raw(client: TestClient, tenant: Tenant, body: bytes) -> Any:
    return client.post(TEAMS, content=body, headers={**tenant.admin.headers, **JSON})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name": "Sales",', id="truncated"),
        pytest.param(b"{'name': 'Sales'}", id="single-quotes"),
        pytest.param(b'{"name": "Sales"} trailing', id="trailing-garbage"),
        pytest.param(b"\xff\xfe not utf-8", id="not-utf8"),
        pytest.param(b'{"name": "Sa\xffles"}', id="not-utf8-inside-a-string"),
        pytest.param(b"[" * 100_000, id="nested-too-deep"),
    ],
)
def test_malformed_json_is_422_and_writes_nothing(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase, body: bytes
) -> None:
    before = count_teams(db)
    error = assert_envelope(_post_raw(client, tenant, body), 422, "VALIDATION_ERROR")
    assert error["message"] == "The request body is not valid JSON."
    assert error["path"] == TEAMS
    assert [d["type"] for d in error["details"]] == ["json_invalid"]
    assert count_teams(db) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"name": 123}, "name", id="number-for-string"),
        pytest.param({"name": ["a"]}, "name", id="list-for-string"),
        pytest.param({"name": None}, "name", id="null-for-required"),
        pytest.param({"name": ""}, "name", id="too-short"),
        pytest.param({"name": "x" * 121}, "name", id="too-long"),
        pytest.param({"name": "Sales", "description": {"a": 1}}, "description", id="object"),
        pytest.param({}, "name", id="missing"),
    ],
)
def test_wrong_types_are_422_with_field_details(
    client: TestClient,
    tenant: Tenant,
    db: TransactionalDatabase,
    payload: dict[str, object],
    field: str,
) -> None:
    before = count_teams(db)
    response = client.post(TEAMS, json=payload, headers=tenant.admin.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert field in {d["field"] for d in error["details"]}
    assert all(d["location"] == "body" for d in error["details"])
    assert count_teams(db) == before


@pytest.mark.parametrize("body", [b"[]", b'"Sales"', b"42", b"null"])
def test_json_that_is_not_an_object_is_422(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase, body: bytes
) -> None:
    before = count_teams(db)
    assert_envelope(_post_raw(client, tenant, body), 422, "VALIDATION_ERROR")
    assert count_teams(db) == before


def test_unknown_fields_are_refused(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    before = count_teams(db)
    response = client.post(
        TEAMS,
        json={"name": "Sales", "organizationId": str(tenant.organization_id), "version": 9},
        headers=tenant.admin.headers,
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"organizationId", "version"}
    assert {d["type"] for d in error["details"]} == {"extra_forbidden"}
    assert count_teams(db) == before


def test_nul_characters_in_text_are_422_not_a_database_error(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    """PostgreSQL cannot store NUL in text; that must be a validation error, not a 500."""
    before = count_teams(db)
    response = client.post(TEAMS, json={"name": "Sa\x00les"}, headers=tenant.admin.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "name" in {d["field"] for d in error["details"]}
    assert count_teams(db) == before


def test_body_without_json_content_type_is_not_accepted(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    before = count_teams(db)
    response = client.post(
        TEAMS,
        content=json.dumps({"name": "Sales"}).encode(),
        headers={**tenant.admin.headers, "Content-Type": "text/plain"},
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")
    assert count_teams(db) == before


# -- body size ------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def test_ten_megabyte_body_with_content_length_is_413(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    before = count_teams(db)
    body = b'{"name": "' + b"x" * TEN_MB + b'"}'
    response = _post_raw(client, tenant, body)
    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"maxBytes": 2 * 1024 * 1024}
    assert count_teams(db) == before


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize("idempotency_key", [None, "big-upload-1"])
def test_ten_megabyte_streamed_body_without_content_length_is_413(
    client: TestClient,
    tenant: Tenant,
    db: TransactionalDatabase,
    idempotency_key: str | None,
) -> None:
    before = count_teams(db)
    headers = {**tenant.admin.headers, **JSON}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    response = client.post(TEAMS, content=_chunks(TEN_MB), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.request.headers["transfer-encoding"] == "chunked"
    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"maxBytes": 2 * 1024 * 1024}
    assert count_teams(db) == before
    if idempotency_key:  # the refused request did not use up its key
        retry = client.post(TEAMS, json={"name": "Small"}, headers=headers)
        assert retry.status_code == 201, retry.text
        assert "idempotent-replayed" not in retry.headers


def test_streamed_body_under_the_limit_is_accepted(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    before = count_teams(db)
    payload = json.dumps({"name": "Streamed", "description": "d" * 900}).encode()
    parts = iter([payload[:10], payload[10:]])
    response = client.post(TEAMS, content=parts, headers={**tenant.admin.headers, **JSON})
    assert response.status_code == 201, response.text
    assert count_teams(db) == before + 1


# -- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{TEAMS}/not-a-uuid",
        f"{TEAMS}/123",
        f"{TEAMS}/00000000-0000-0000-0000-00000000000g",
        "/api/v1/users/%00",
    ],
)
def test_invalid_uuid_in_path_is_a_4xx_envelope(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method,
            path,
            headers=tenant.admin.headers,
            json={"name": "x"} if method == "PATCH" else None,
        )
        assert 400 <= response.status_code < 500, (method, response.text)
        error = assert_envelope(response, response.status_code)
        if response.status_code == 422:
            assert error["details"][0]["location"] == "path"


def test_unknown_uuid_is_404(client: TestClient, tenant: Tenant) -> None:
    response = client.get(
        f"{TEAMS}/00000000-0000-0000-0000-000000000000", headers=tenant.admin.headers
    )
    assert_envelope(response, 404, "NOT_FOUND")


def test_unknown_route_is_404_envelope(client: TestClient) -> None:
    for path in ("/api/v1/nothing-here", "/nope", "/api/v1/teams/x/y/z"):
        error = assert_envelope(client.get(path), 404, "NOT_FOUND")
        assert error["path"] == path
        assert error["message"] == "The resource was not found."


def test_wrong_method_is_405_envelope_with_allow(client: TestClient, tenant: Tenant) -> None:
    response = client.put(TEAMS, json={"name": "x"}, headers=tenant.admin.headers)
    error = assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert error["path"] == TEAMS
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}
    assert_envelope(client.delete("/health"), 405, "METHOD_NOT_ALLOWED")


# -- unexpected errors -------------------------------------------------------------------

SECRET = "db-password-hunter2"


def test_unexpected_exception_is_500_envelope_without_traceback(
    make_app: AppFactory, open_client: Callable[..., TestClient]
) -> None:
    app = make_app()
    boom = APIRouter()

    @boom.get("/boom-sync")
    def boom_sync() -> None:
        raise RuntimeError(f"connection to {SECRET} failed")

    @boom.get("/boom-async")
    async def boom_async() -> None:
        raise KeyError(SECRET)

    app.include_router(boom)
    client = open_client(app, raise_server_exceptions=False)
    for path in ("/boom-sync", "/boom-async"):
        response = client.get(path, headers={"X-Request-ID": f"trace-{path[1:]}"})
        error = assert_envelope(response, 500, "INTERNAL_ERROR")
        assert error["traceId"] == f"trace-{path[1:]}"
        assert error["path"] == path
        assert error["details"] is None
        assert SECRET not in response.text
        assert "Traceback" not in response.text
        assert "RuntimeError" not in response.text
        assert "KeyError" not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in response.headers
    # The app keeps serving after a crash.
    assert client.get("/health").status_code == 200
