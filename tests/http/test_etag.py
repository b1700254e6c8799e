"""ETag on reads, If-None-Match → 304, If-Match on writes → 412 when stale."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from kith.auth.roles import Role
from tests.assertions import assert_envelope
from tests.factories import Factory, Tenant
from tests.http.conftest import TEAMS

USERS = "/api/v1/users"


def _team(client: TestClient, tenant: Tenant, name: str = "Ops") -> tuple[str, str]:
    created = client.post(TEAMS, json={"name": name}, headers=tenant.admin.headers)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    return created.json()["id"], created.headers["etag"]


def test_get_returns_the_version_as_etag_and_if_none_match_is_304(
    client: TestClient, tenant: Tenant
) -> None:
    team_id, _ = _team(client, tenant)
    url = f"{TEAMS}/{team_id}"
    response = client.get(url, headers=tenant.admin.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{response.json()["version"]}"' == '"1"'

    for tag in ('"1"', 'W/"1"', '"7", "1"', "*"):
        cached = client.get(url, headers={**tenant.admin.headers, "If-None-Match": tag})
        assert cached.status_code == 304, tag
        assert cached.content == b""
        assert cached.headers["etag"] == '"1"'

    other = client.get(url, headers={**tenant.admin.headers, "If-None-Match": '"2"'})
    assert other.status_code == 200
    assert other.json()["name"] == "Ops"


def test_if_none_match_never_hides_another_tenants_record(
    client: TestClient, tenant: Tenant, factory: Factory
) -> None:
    team_id, _ = _team(client, tenant)
    stranger = factory.tenant()
    response = client.get(
        f"{TEAMS}/{team_id}", headers={**stranger.admin.headers, "If-None-Match": "*"}
    )
    assert_envelope(response, 404, "NOT_FOUND")
    assert "etag" not in response.headers


def test_patch_with_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, tenant: Tenant
) -> None:
    team_id, etag = _team(client, tenant)
    url = f"{TEAMS}/{team_id}"
    moved = client.patch(url, json={"description": "first edit"}, headers=tenant.admin.headers)
    assert moved.status_code == 200
    assert moved.headers["etag"] == '"2"'

    stale = client.patch(
        url, json={"name": "Renamed"}, headers={**tenant.admin.headers, "If-Match": etag}
    )
    error = assert_envelope(stale, 412, "PRECONDITION_FAILED")
    assert error["details"] == {"currentVersion": 2}

    current = client.get(url, headers=tenant.admin.headers).json()
    assert current["name"] == "Ops"
    assert current["description"] == "first edit"
    assert current["version"] == 2


def test_patch_with_current_if_match_succeeds_with_a_new_etag(
    client: TestClient, tenant: Tenant
) -> None:
    team_id, etag = _team(client, tenant)
    url = f"{TEAMS}/{team_id}"
    response = client.patch(
        url, json={"name": "Renamed"}, headers={**tenant.admin.headers, "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    assert response.headers["etag"] == '"2"' != etag

    # The old validator no longer matches: a cache revalidating with it gets the new body.
    fresh = client.get(url, headers={**tenant.admin.headers, "If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["name"] == "Renamed"
    again = client.patch(
        url,
        json={"name": "Again"},
        headers={**tenant.admin.headers, "If-Match": response.headers["etag"]},
    )
    assert again.status_code == 200
    assert again.headers["etag"] == '"3"'


def test_if_match_star_and_lists(client: TestClient, tenant: Tenant) -> None:
    team_id, _ = _team(client, tenant)
    url = f"{TEAMS}/{team_id}"
    star = client.patch(url, json={"name": "A"}, headers={**tenant.admin.headers, "If-Match": "*"})
    assert star.status_code == 200
    listed = client.patch(
        url, json={"name": "B"}, headers={**tenant.admin.headers, "If-Match": '"9", "2"'}
    )
    assert listed.status_code == 200
    assert listed.json()["version"] == 3


def test_delete_with_stale_if_match_is_412_and_keeps_the_record(
    client: TestClient, tenant: Tenant
) -> None:
    team_id, etag = _team(client, tenant)
    url = f"{TEAMS}/{team_id}"
    assert client.patch(url, json={"name": "B"}, headers=tenant.admin.headers).status_code == 200

    stale = client.delete(url, headers={**tenant.admin.headers, "If-Match": etag})
    assert_envelope(stale, 412, "PRECONDITION_FAILED")
    assert client.get(url, headers=tenant.admin.headers).status_code == 200

    gone = client.delete(url, headers={**tenant.admin.headers, "If-Match": '"2"'})
    assert gone.status_code == 204
    assert_envelope(client.get(url, headers=tenant.admin.headers), 404, "NOT_FOUND")


def test_users_carry_etags_and_honour_if_match(client: TestClient, tenant: Tenant) -> None:
    rep = tenant.member(Role.SALES_REP)
    url = f"{USERS}/{rep.user_id}"
    read = client.get(url, headers=tenant.admin.headers)
    assert read.status_code == 200
    etag = read.headers["etag"]
    assert etag == f'"{read.json()["version"]}"'
    cached = client.get(url, headers={**tenant.admin.headers, "If-None-Match": etag})
    assert cached.status_code == 304

    renamed = client.patch(
        url, json={"name": "Renamed Rep"}, headers={**tenant.admin.headers, "If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    new_etag = renamed.headers["etag"]
    assert new_etag != etag

    stale = client.patch(
        url, json={"name": "Lost update"}, headers={**tenant.admin.headers, "If-Match": etag}
    )
    assert_envelope(stale, 412, "PRECONDITION_FAILED")
    stale_delete = client.delete(url, headers={**tenant.admin.headers, "If-Match": etag})
    assert_envelope(stale_delete, 412, "PRECONDITION_FAILED")
    after = client.get(url, headers=tenant.admin.headers).json()
    assert after["name"] == "Renamed Rep"
    assert after["status"] == "ACTIVE"

    deactivated = client.delete(url, headers={**tenant.admin.headers, "If-Match": new_etag})
    assert deactivated.status_code == 204


def test_errors_and_lists_carry_no_etag(client: TestClient, tenant: Tenant) -> None:
    _team(client, tenant)
    listing = client.get(TEAMS, headers=tenant.admin.headers)
    assert listing.status_code == 200
    assert "etag" not in listing.headers
    missing = client.get(f"{TEAMS}/{uuid.uuid4()}", headers=tenant.admin.headers)
    assert_envelope(missing, 404)
    assert "etag" not in missing.headers


def test_renaming_yourself_changes_your_etag(client: TestClient, tenant: Tenant) -> None:
    rep = tenant.member(Role.SALES_REP)
    url = f"{USERS}/{rep.user_id}"
    etag = client.get(url, headers=tenant.admin.headers).headers["etag"]
    assert client.patch(f"{USERS}/me", json={"name": "New"}, headers=rep.headers).status_code == 200
    revalidated = client.get(url, headers={**tenant.admin.headers, "If-None-Match": etag})
    assert revalidated.status_code == 200


def test_put_team_member_with_stale_if_match_is_412(client: TestClient, tenant: Tenant) -> None:
    team_id, etag = _team(client, tenant)
    rep = tenant.member(Role.SALES_REP)
    assert (
        client.patch(
            f"{TEAMS}/{team_id}", json={"name": "Moved"}, headers=tenant.admin.headers
        ).status_code
        == 200
    )
    response = client.put(
        f"{TEAMS}/{team_id}/members/{rep.user_id}",
        headers={**tenant.admin.headers, "If-Match": etag},
    )
    assert_envelope(response, 412, "PRECONDITION_FAILED")
