"""The list envelope and grammar (page/limit, sort, cursor), via GET /api/v1/teams and
GET /api/v1/users, plus ``paginate`` itself on a nullable column."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from kith.auth.models import User
from kith.auth.roles import Role
from kith.http.pagination import ListParams, decode_cursor, encode_cursor, paginate
from tests.assertions import assert_envelope
from tests.conftest import TransactionalDatabase
from tests.factories import Factory, Tenant
from tests.http.conftest import TEAMS

USERS = "/api/v1/users"


def _list(client: TestClient, tenant: Tenant, url: str = TEAMS, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"data", "pagination", "totalCount", "totalCountCapped"}
    assert set(body["pagination"]) == {"page", "limit", "hasNext", "nextCursor"}
    return body


def _walk(
    client: TestClient, tenant: Tenant, url: str = TEAMS, **params: Any
) -> list[dict[str, Any]]:
    """Every item, following nextCursor from the first page."""
    items: list[dict[str, Any]] = []
    body = _list(client, tenant, url, **params)
    total = body["totalCount"]
    for _ in range(1000):
        items.extend(body["data"])
        assert body["totalCount"] == total
        cursor = body["pagination"]["nextCursor"]
        assert (cursor is not None) == body["pagination"]["hasNext"]
        if cursor is None:
            return items
        assert len(body["data"]) == params["limit"]
        body = _list(client, tenant, url, **params, cursor=cursor)
    raise AssertionError("the cursor walk did not end")


def _teams(tenant: Tenant, names: list[str]) -> list[uuid.UUID]:
    return [tenant.team(name=name) for name in names]


@pytest.fixture
def with_25_teams(tenant: Tenant, factory: Factory) -> Tenant:
    _teams(tenant, [f"Team {i:03d}" for i in range(25, 0, -1)])
    factory.tenant().team(name="Team 000 of another org")
    return tenant


def test_default_page_is_the_first_twenty_by_name(
    client: TestClient, with_25_teams: Tenant
) -> None:
    body = _list(client, with_25_teams)
    assert body["totalCount"] == 25
    assert body["pagination"] == {
        "page": 1,
        "limit": 20,
        "hasNext": True,
        "nextCursor": body["pagination"]["nextCursor"],
    }
    assert [t["name"] for t in body["data"]] == [f"Team {i:03d}" for i in range(1, 21)]


def test_page_and_limit(client: TestClient, with_25_teams: Tenant) -> None:
    pages = [_list(client, with_25_teams, page=p, limit=10) for p in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [10, 10, 5, 0]
    assert [p["pagination"]["hasNext"] for p in pages] == [True, True, False, False]
    assert [p["pagination"]["page"] for p in pages] == [1, 2, 3, 4]
    assert {p["totalCount"] for p in pages} == {25}
    names = [t["name"] for p in pages for t in p["data"]]
    assert names == [f"Team {i:03d}" for i in range(1, 26)]
    assert pages[2]["pagination"]["nextCursor"] is None
    exact = _list(client, with_25_teams, limit=25)
    assert exact["pagination"]["hasNext"] is False
    assert len(exact["data"]) == 25


def test_cursor_walk_by_name_visits_every_row_once_in_order(
    client: TestClient, with_25_teams: Tenant
) -> None:
    duplicates = _teams(with_25_teams, ["Team 010", "Team 010", "Team 020"])
    items = _walk(client, with_25_teams, sort="name", limit=4)
    ids = [t["id"] for t in items]
    assert len(ids) == len(set(ids)) == 28
    assert {str(d) for d in duplicates} <= set(ids)
    keys = [(t["name"], uuid.UUID(t["id"])) for t in items]
    assert keys == sorted(keys)


def test_cursor_walk_newest_first(
    client: TestClient, tenant: Tenant, db: TransactionalDatabase
) -> None:
    ids = _teams(tenant, [f"T{i}" for i in range(9)])
    # Two teams created in the same instant: the id breaks the tie.
    from kith.auth.models import Team

    instant = datetime.now(UTC) - timedelta(days=1)
    with db.transaction() as session:
        session.execute(update(Team).where(Team.id.in_(ids[3:5])).values(created_at=instant))

    items = _walk(client, tenant, sort="-createdAt", limit=2)
    assert len({t["id"] for t in items}) == len(items) == 9
    keys = [(datetime.fromisoformat(t["createdAt"]), uuid.UUID(t["id"])) for t in items]
    assert keys == sorted(keys, reverse=True)
    assert [t["id"] for t in items[-2:]] == sorted((str(i) for i in ids[3:5]), reverse=True)


def test_cursor_walk_over_mixed_directions(client: TestClient, tenant: Tenant) -> None:
    _teams(tenant, ["b", "a", "b", "c", "a", "b"])
    items = _walk(client, tenant, sort="name,-createdAt", limit=2)
    assert len({t["id"] for t in items}) == 6
    assert [t["name"] for t in items] == ["a", "a", "b", "b", "b", "c"]
    for first, second in itertools.pairwise(items):
        if first["name"] == second["name"]:
            created = [datetime.fromisoformat(t["createdAt"]) for t in (first, second)]
            assert created[0] >= created[1]


def test_cursor_walk_over_an_enum_column(
    client: TestClient, tenant: Tenant, factory: Factory
) -> None:
    for role in (Role.VIEWER, Role.SALES_REP, Role.ADMIN, Role.SALES_REP, Role.VIEWER):
        tenant.member(role)
    items = _walk(client, tenant, USERS, sort="role", limit=2)
    assert len({u["id"] for u in items}) == len(items) == 6
    roles = [u["role"] for u in items]
    assert roles == sorted(roles)


@pytest.mark.parametrize("sort", ["bogus", "name,bogus", "-bogus", "name;DROP TABLE teams"])
def test_unknown_sort_field_is_422_naming_it(client: TestClient, tenant: Tenant, sort: str) -> None:
    response = client.get(TEAMS, params={"sort": sort}, headers=tenant.admin.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    bad = sort.split(",")[-1].lstrip("-")
    assert repr(bad) in error["message"]
    assert error["details"][0]["field"] == "sort"
    assert "allowed: createdAt, name, updatedAt" in error["details"][0]["message"]


def test_empty_sort_falls_back_to_the_default(client: TestClient, tenant: Tenant) -> None:
    _teams(tenant, ["b", "c", "a"])
    assert [t["name"] for t in _list(client, tenant, sort=",")["data"]] == ["a", "b", "c"]


ZERO = str(uuid.UUID(int=0))


def _raw_cursor(data: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        pytest.param("name", "not a cursor!", id="garbage"),
        pytest.param("name", "e30", id="empty-object"),
        pytest.param("name", _raw_cursor([1, 2]), id="list"),
        pytest.param("name", _raw_cursor({"v": "abc", "s": "name"}), id="values-not-a-list"),
        pytest.param("name", _raw_cursor({"v": ["a"], "s": "name"}), id="too-few-values"),
        pytest.param("name", _raw_cursor({"v": ["a", {"u": "nope"}], "s": "name"}), id="bad-uuid"),
        pytest.param("name", _raw_cursor({"v": [7, {"u": ZERO}], "s": "name"}), id="number-name"),
        pytest.param("name", _raw_cursor({"v": ["a", "not-a-uuid"], "s": "name"}), id="raw-id"),
        pytest.param("name", _raw_cursor({"v": [None, {"u": ZERO}], "s": "name"}), id="null-name"),
        pytest.param("name", _raw_cursor({"v": [["a"], {"u": ZERO}], "s": "name"}), id="list-name"),
        pytest.param(
            "-createdAt",
            _raw_cursor({"v": [{"t": "2024-01-01T00:00:00"}, {"u": ZERO}], "s": "-createdAt"}),
            id="naive-datetime",
        ),
        pytest.param(
            "-createdAt",
            _raw_cursor({"v": ["yesterday", {"u": ZERO}], "s": "-createdAt"}),
            id="string-for-datetime",
        ),
        pytest.param(
            "-createdAt",
            _raw_cursor({"v": [{"t": 5}, {"u": ZERO}], "s": "-createdAt"}),
            id="number-in-tag",
        ),
        pytest.param(
            "-createdAt",
            _raw_cursor({"v": [{"t": "x", "u": "y"}, {"u": ZERO}], "s": "-createdAt"}),
            id="two-tags",
        ),
        pytest.param(
            "name",
            _raw_cursor(
                {"v": [{"t": "2024-01-01T00:00:00+00:00"}, {"u": ZERO}], "s": "-createdAt"}
            ),
            id="other-sort",
        ),
    ],
)
def test_tampered_cursor_is_422(client: TestClient, tenant: Tenant, sort: str, cursor: str) -> None:
    _teams(tenant, ["a", "b"])
    response = client.get(
        TEAMS, params={"sort": sort, "cursor": cursor}, headers=tenant.admin.headers
    )
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "cursor"


def test_a_cursor_only_fits_the_sort_it_came_from(client: TestClient, tenant: Tenant) -> None:
    _teams(tenant, ["a", "b", "c"])
    cursor = _list(client, tenant, sort="name", limit=1)["pagination"]["nextCursor"]
    assert _list(client, tenant, sort="name", limit=1, cursor=cursor)["data"][0]["name"] == "b"
    response = client.get(
        TEAMS, params={"sort": "-name", "cursor": cursor}, headers=tenant.admin.headers
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


def test_a_cursor_never_crosses_tenants(
    client: TestClient, tenant: Tenant, factory: Factory
) -> None:
    _teams(tenant, ["a", "b", "c"])
    cursor = _list(client, tenant, sort="name", limit=1)["pagination"]["nextCursor"]
    stranger = factory.tenant()
    _teams(stranger, ["z"])
    body = _list(client, stranger, sort="name", limit=1, cursor=cursor)
    assert [t["name"] for t in body["data"]] == ["z"]
    assert body["totalCount"] == 1


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "ten"}, {"page": 0}, {"page": "x"}],
)
def test_out_of_range_page_or_limit_is_422(
    client: TestClient, tenant: Tenant, params: dict[str, Any]
) -> None:
    response = client.get(TEAMS, params=params, headers=tenant.admin.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    (name,) = params
    assert error["details"][0]["field"] == name
    assert error["details"][0]["location"] == "query"


def test_limit_bounds_are_inclusive(client: TestClient, tenant: Tenant) -> None:
    _teams(tenant, ["a", "b"])
    assert len(_list(client, tenant, limit=1)["data"]) == 1
    assert len(_list(client, tenant, limit=100)["data"]) == 2


# -- paginate() on a nullable column ----------------------------------------------------------


def test_cursor_walk_over_a_nullable_column_keeps_the_nulls(
    factory: Factory, tenant: Tenant, db: TransactionalDatabase
) -> None:
    """``lastLoginAt`` is NULL for users who never signed in; keyset pagination must
    neither skip them nor stop at them, in either direction, on either backend."""
    members = [tenant.member() for _ in range(6)]
    ids = [tenant.admin.user_id, *(m.user_id for m in members)]
    base = datetime(2024, 5, 1, tzinfo=UTC)
    logins = [base, None, base + timedelta(hours=1), None, base, None, base + timedelta(hours=2)]
    with db.transaction() as session:
        for user_id, login in zip(ids, logins, strict=True):
            session.execute(update(User).where(User.id == user_id).values(last_login_at=login))

    for sort in ("lastLoginAt", "-lastLoginAt"):
        seen: list[tuple[datetime | None, uuid.UUID]] = []
        cursor = None
        with db.transaction() as session:
            for _ in range(20):
                page = paginate(
                    session,
                    select(User).where(User.id.in_(ids)),
                    ListParams(page=1, limit=2, sort=sort, cursor=cursor),
                    sort_fields={"lastLoginAt": User.last_login_at},
                    default_sort=["lastLoginAt"],
                    id_column=User.id,
                    to_item=lambda user: (user.last_login_at, user.id),
                )
                seen.extend(page.data)
                cursor = page.pagination.next_cursor
                if cursor is None:
                    break
        assert sorted(i for _, i in seen) == sorted(ids), sort
        # NULL sorts as the largest value: last ascending, first descending.
        far = datetime.max.replace(tzinfo=UTC)
        keys = [(login or far, user_id) for login, user_id in seen]
        assert keys == sorted(keys, reverse=sort.startswith("-")), sort


def test_cursor_codec_round_trips_every_sort_value_type() -> None:
    values = [
        "name",
        3,
        1.5,
        True,
        None,
        Decimal("12.50"),
        date(2024, 2, 29),
        datetime(2024, 2, 29, 12, 30, tzinfo=UTC),
        uuid.UUID(int=42),
        Role.ADMIN,
    ]
    cursor = encode_cursor(values, "x")
    decoded = decode_cursor(cursor, "x", len(values))
    assert decoded == [*values[:-1], "ADMIN"]
    assert type(decoded[5]) is Decimal
    assert type(decoded[6]) is date


# -- property: cursor walking equals one big page ---------------------------------------------

NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
)


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=st.lists(st.one_of(NAMES, st.sampled_from(["a", "A", "b", "ä", " a"])), max_size=12),
    limit=st.integers(min_value=1, max_value=5),
    sort=st.sampled_from(["name", "-name", "-createdAt", "name,-createdAt", "-name,createdAt"]),
)
def test_cursor_walk_matches_a_single_page(
    client: TestClient,
    factory: Factory,
    is_postgres: bool,
    names: list[str],
    limit: int,
    sort: str,
) -> None:
    tenant = factory.tenant()
    ids = {str(i) for i in _teams(tenant, names)}
    walked = _walk(client, tenant, sort=sort, limit=limit)
    whole = _list(client, tenant, sort=sort, limit=100)
    assert whole["totalCount"] == len(names)
    assert [t["id"] for t in walked] == [t["id"] for t in whole["data"]]
    assert {t["id"] for t in walked} == ids
    if sort == "name" and not is_postgres:
        # SQLite compares text by code point (BINARY); PostgreSQL uses its collation.
        keys = [(t["name"], uuid.UUID(t["id"])) for t in walked]
        assert keys == sorted(keys)
