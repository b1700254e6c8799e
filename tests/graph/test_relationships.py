"""Relationships over HTTP: create, read, change, delete; validation, envelopes,
duplicates, ETags and the visibility rule."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from kith.auth.roles import Role
from tests.assertions import assert_envelope
from tests.factories import Factory
from tests.graph.conftest import GRAPH, World

REL = f"{GRAPH}/relationships"


def test_create_read_update_delete(client: TestClient, world: World) -> None:
    a, b = world.contact("Ann Lee"), world.contact("Bob Ray")
    created = world.relate(
        a,
        b,
        type="COLLEAGUE",
        interactionCount=4,
        lastInteraction="2026-11-01T10:00:00Z",
        notes="Met at the offsite",
    )
    assert created["fromId"] == a
    assert created["toId"] == b
    assert created["type"] == "COLLEAGUE"
    assert created["directed"] is False
    assert created["manualStrength"] is None
    assert 0 < created["computedStrength"] < 1
    assert created["strength"] == created["computedStrength"]
    assert created["notes"] == "Met at the offsite"
    assert created["source"] == "MANUAL"
    assert created["version"] == 1

    got = client.get(f"{REL}/{created['id']}", headers=world.tenant.admin.headers)
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert got.json() == created

    # A manual strength wins over the computed one…
    patched = client.patch(
        f"{REL}/{created['id']}",
        json={"strength": 0.9},
        headers={**world.tenant.admin.headers, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["strength"] == 0.9
    assert body["manualStrength"] == 0.9
    # (recency decay moves the computed value by a hair between two requests)
    assert body["computedStrength"] == pytest.approx(created["computedStrength"], rel=1e-6)
    assert body["version"] == 2
    # …until it is cleared with null.
    cleared = client.patch(
        f"{REL}/{created['id']}", json={"strength": None}, headers=world.tenant.admin.headers
    ).json()
    assert cleared["manualStrength"] is None
    assert cleared["strength"] == pytest.approx(created["computedStrength"], rel=1e-6)

    # A stale If-Match is refused and changes nothing.
    stale = client.patch(
        f"{REL}/{created['id']}",
        json={"strength": 0.1},
        headers={**world.tenant.admin.headers, "If-Match": '"1"'},
    )
    assert_envelope(stale, 412, "PRECONDITION_FAILED")

    deleted = client.delete(f"{REL}/{created['id']}", headers=world.tenant.admin.headers)
    assert deleted.status_code == 204
    gone = client.get(f"{REL}/{created['id']}", headers=world.tenant.admin.headers)
    assert_envelope(gone, 404, "NOT_FOUND")


def test_validation_errors(client: TestClient, world: World) -> None:
    a, b = world.contact("Ann"), world.contact("Bob")
    headers = world.tenant.admin.headers
    for strength in (1.5, -0.1):
        response = client.post(
            REL, json={"fromId": a, "toId": b, "strength": strength}, headers=headers
        )
        error = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert any("strength" in str(d) for d in error["details"])
    assert_envelope(client.post(REL, json={"fromId": a, "toId": a}, headers=headers), 422)
    assert_envelope(
        client.post(REL, json={"fromId": a, "toId": b, "type": "NEMESIS"}, headers=headers), 422
    )
    assert_envelope(
        client.post(REL, json={"fromId": a, "toId": b, "organizationId": a}, headers=headers), 422
    )
    # An unknown contact is a 404, and nothing was written.
    assert_envelope(
        client.post(REL, json={"fromId": a, "toId": str(uuid.uuid4())}, headers=headers), 404
    )
    assert client.get(REL, headers=headers).json()["totalCount"] == 0
    sort = client.get(REL, params={"sort": "name"}, headers=headers)
    assert_envelope(sort, 422, "VALIDATION_ERROR")


def test_duplicate_pair_and_type_is_a_conflict_either_way_round(
    client: TestClient, world: World
) -> None:
    a, b = world.contact("Ann"), world.contact("Bob")
    first = world.relate(a, b, type="FRIEND")
    response = client.post(
        REL, json={"fromId": b, "toId": a, "type": "FRIEND"}, headers=world.tenant.admin.headers
    )
    error = assert_envelope(response, 409, "CONFLICT")
    assert error["details"]["existingId"] == first["id"]
    # Another type between the same two is fine…
    colleague = world.relate(a, b, type="COLLEAGUE")
    # …but changing it into the existing type is a conflict too.
    clash = client.patch(
        f"{REL}/{colleague['id']}", json={"type": "FRIEND"}, headers=world.tenant.admin.headers
    )
    assert_envelope(clash, 409, "CONFLICT")
    assert (
        client.get(f"{REL}/{colleague['id']}", headers=world.tenant.admin.headers).json()["type"]
        == "COLLEAGUE"
    )


def test_list_filters_sort_and_cursor(client: TestClient, world: World) -> None:
    hub = world.contact("Hub")
    spokes = [world.contact(f"S{i}") for i in range(5)]
    for i, spoke in enumerate(spokes):
        world.relate(hub, spoke, strength=0.1 * (i + 1), type="FRIEND" if i % 2 else "KNOWS")
    world.relate(spokes[0], spokes[1], strength=0.95)
    headers = world.tenant.admin.headers

    mine = client.get(REL, params={"contactId": hub}, headers=headers).json()
    assert mine["totalCount"] == 5
    strengths = [r["strength"] for r in mine["data"]]
    assert strengths == sorted(strengths, reverse=True)

    friends = client.get(REL, params={"contactId": hub, "type": "FRIEND"}, headers=headers).json()
    assert {r["type"] for r in friends["data"]} == {"FRIEND"}
    assert friends["totalCount"] == 2
    strong = client.get(REL, params={"minStrength": 0.45}, headers=headers).json()
    assert {round(r["strength"], 2) for r in strong["data"]} == {0.5, 0.95}

    seen: list[str] = []
    params: dict[str, object] = {"limit": 2, "sort": "strength"}
    while True:
        page = client.get(REL, params=params, headers=headers).json()
        seen += [r["id"] for r in page["data"]]
        if not page["pagination"]["hasNext"]:
            break
        params["cursor"] = page["pagination"]["nextCursor"]
    assert len(seen) == len(set(seen)) == 6


def test_user_to_contact_relationship(client: TestClient, world: World) -> None:
    contact = world.contact("Cat")
    me = str(world.tenant.admin.user_id)
    rel = world.relate(me, contact, a_kind="USER", type="MENTOR")
    assert rel["fromKind"] == "USER"
    assert rel["directed"] is True
    unknown_user = client.post(
        REL,
        json={"fromId": str(uuid.uuid4()), "fromKind": "USER", "toId": contact},
        headers=world.tenant.admin.headers,
    )
    assert_envelope(unknown_user, 404)


def test_rbac_viewer_and_rep(client: TestClient, factory: Factory, world: World) -> None:
    viewer = world.tenant.member(Role.VIEWER)
    rep, other_rep = world.tenant.member(Role.SALES_REP), world.tenant.member(Role.SALES_REP)
    mine_a, mine_b = world.contact("Mia", as_=rep), world.contact("Max", as_=rep)
    theirs = world.contact("Tom", as_=other_rep)

    denied = client.post(REL, json={"fromId": mine_a, "toId": mine_b}, headers=viewer.headers)
    assert_envelope(denied, 403, "FORBIDDEN")

    rel = world.relate(mine_a, mine_b, as_=rep)
    # A relationship to a contact the rep may not see: 404, like another tenant's.
    hidden = client.post(REL, json={"fromId": mine_a, "toId": theirs}, headers=rep.headers)
    assert_envelope(hidden, 404, "NOT_FOUND")
    # Reps record only their own user's ties.
    someone_else = client.post(
        REL,
        json={"fromId": str(other_rep.user_id), "fromKind": "USER", "toId": mine_a},
        headers=rep.headers,
    )
    assert_envelope(someone_else, 403)
    world.relate(str(rep.user_id), mine_a, a_kind="USER", as_=rep)

    cross = world.relate(mine_a, theirs)  # by the admin
    assert client.get(f"{REL}/{cross['id']}", headers=rep.headers).status_code == 404
    assert client.delete(f"{REL}/{cross['id']}", headers=rep.headers).status_code == 404
    listed = client.get(REL, headers=rep.headers).json()
    assert cross["id"] not in {r["id"] for r in listed["data"]}
    assert rel["id"] in {r["id"] for r in listed["data"]}
    # The viewer reads everything, changes nothing.
    assert client.get(f"{REL}/{cross['id']}", headers=viewer.headers).status_code == 200
    assert_envelope(
        client.patch(f"{REL}/{cross['id']}", json={"strength": 0.2}, headers=viewer.headers), 403
    )
    assert_envelope(client.delete(f"{REL}/{cross['id']}", headers=viewer.headers), 403)


def test_another_tenants_contact_is_404(client: TestClient, factory: Factory, world: World) -> None:
    other = factory.tenant()
    foreign = World(client, other).contact("Far")
    response = client.post(
        REL,
        json={"fromId": world.contact("Near"), "toId": foreign},
        headers=world.tenant.admin.headers,
    )
    assert_envelope(response, 404, "NOT_FOUND")
