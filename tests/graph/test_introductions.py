"""Introductions: the best intermediary is picked from the strongest path, the
request goes to that contact's owner with an ``introduction.requested`` event,
and only the addressee moves it through accepted → completed (or declined)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from kith.auth.roles import Role
from kith.events.models import OutboxEvent
from tests.assertions import assert_envelope
from tests.graph.conftest import GRAPH, World

INTRO = f"{GRAPH}/introductions"


def test_request_accept_complete(client: TestClient, world: World) -> None:
    requester = world.tenant.member(Role.SALES_REP, name="Remy Requester")
    owner = world.tenant.member(Role.SALES_REP, name="Olga Owner")
    stranger = world.tenant.member(Role.SALES_REP)
    viewer = world.tenant.member(Role.VIEWER)
    mine = world.contact("Mo Mine", as_=requester)
    via = world.contact("Vic Viaduct", as_=owner, email="vic@hidden.example")
    weak = world.contact("Wes Weak", as_=owner)
    target = world.contact("Tess Target", as_=requester)
    world.relate(str(requester.user_id), mine, a_kind="USER", strength=0.9, as_=requester)
    world.relate(mine, via, strength=0.9)
    world.relate(via, target, strength=0.8)
    world.relate(mine, weak, strength=0.3)
    world.relate(weak, target, strength=0.3)

    assert_envelope(
        client.post(
            f"{GRAPH}/introduce", json={"targetId": target, "message": "hi"}, headers=viewer.headers
        ),
        403,
    )
    response = client.post(
        f"{GRAPH}/introduce",
        json={"targetId": target, "message": "Could you introduce me to Tess?"},
        headers=requester.headers,
    )
    assert response.status_code == 201, response.text
    intro = response.json()
    assert intro["status"] == "REQUESTED"
    assert intro["addresseeId"] == str(owner.user_id)
    assert intro["requesterId"] == str(requester.user_id)
    assert intro["target"]["id"] == target
    # The intermediary is the owner's contact: masked for the requester.
    assert intro["via"]["masked"] is True
    assert intro["via"]["label"] == "a contact of Olga Owner"
    assert "Vic" not in response.text
    assert "vic@hidden.example" not in response.text
    assert intro["path"]["hops"] == 3
    assert len(intro["path"]["strengths"]) == 3

    with world.tenant.factory.database.transaction() as session:
        events = (
            session.execute(
                select(OutboxEvent).where(
                    OutboxEvent.organization_id == world.tenant.organization_id,
                    OutboxEvent.event_type == "introduction.requested",
                )
            )
            .scalars()
            .all()
        )
    assert len(events) == 1
    assert events[0].aggregate_id == intro["id"]
    assert events[0].payload["addresseeId"] == str(owner.user_id)
    assert events[0].payload["via"] == {"kind": "CONTACT", "id": via}

    # The addressee sees the intermediary in full, and decides.
    seen = client.get(f"{INTRO}/{intro['id']}", headers=owner.headers).json()
    assert seen["via"]["id"] == via
    # …and whom to introduce, although the target is the requester's contact.
    assert seen["target"]["name"] == "Tess Target"
    assert seen["path"]["nodes"][1]["masked"] is True  # the requester's own contact stays masked
    received = client.get(INTRO, params={"role": "received"}, headers=owner.headers).json()
    assert [i["id"] for i in received["data"]] == [intro["id"]]
    assert_envelope(client.get(f"{INTRO}/{intro['id']}", headers=stranger.headers), 404)
    assert_envelope(client.post(f"{INTRO}/{intro['id']}/accept", headers=stranger.headers), 404)
    assert_envelope(
        client.post(f"{INTRO}/{intro['id']}/accept", headers=requester.headers), 403, "FORBIDDEN"
    )
    assert_envelope(
        client.post(f"{INTRO}/{intro['id']}/complete", headers=owner.headers), 409, "CONFLICT"
    )
    accepted = client.post(f"{INTRO}/{intro['id']}/accept", headers=owner.headers).json()
    assert accepted["status"] == "ACCEPTED"
    assert accepted["acceptedBy"] == str(owner.user_id)
    assert accepted["acceptedAt"] is not None
    completed = client.post(f"{INTRO}/{intro['id']}/complete", headers=owner.headers).json()
    assert completed["status"] == "COMPLETED"
    assert completed["completedBy"] == str(owner.user_id)
    assert_envelope(client.post(f"{INTRO}/{intro['id']}/decline", headers=owner.headers), 409)
    mine_listed = client.get(INTRO, params={"role": "requested"}, headers=requester.headers).json()
    assert mine_listed["data"][0]["status"] == "COMPLETED"
    assert client.get(INTRO, headers=world.tenant.admin.headers).json()["totalCount"] == 1


def test_explicit_intermediary_and_refusals(client: TestClient, world: World) -> None:
    requester = world.tenant.member(Role.SALES_MANAGER, name="Mel Manager")
    rep = world.tenant.member(Role.SALES_REP, name="Rae Rep")
    a, target = world.contact("Al"), world.contact("Tim")
    b = world.contact("Bo", as_=rep)
    admin = world.tenant.admin
    world.relate(a, target, strength=0.5)
    world.relate(b, target, strength=0.9)

    via_b = client.post(
        f"{GRAPH}/introduce",
        json={"targetId": target, "viaId": b, "message": "via Bo please"},
        headers=admin.headers,
    )
    assert via_b.status_code == 201, via_b.text
    assert via_b.json()["addresseeId"] == str(rep.user_id)
    assert via_b.json()["via"]["id"] == b  # the admin may see every contact
    assert via_b.json()["path"] is None  # the admin's own user is not in the graph

    chosen = client.post(
        f"{GRAPH}/introduce",
        json={"targetId": target, "viaId": str(admin.user_id), "message": "x"},
        headers=admin.headers,
    )
    assert_envelope(chosen, 422, "VALIDATION_ERROR")  # the admin has no tie to Tim
    made = client.post(
        f"{GRAPH}/introduce",
        json={"targetId": target, "viaId": a, "message": "via Al please"},
        headers=admin.headers,
    )
    # Al is the admin's own contact: they should introduce themselves.
    assert_envelope(made, 422)
    world.relate(str(requester.user_id), target, a_kind="USER", strength=0.4)
    direct = client.post(
        f"{GRAPH}/introduce", json={"targetId": target, "message": "x"}, headers=requester.headers
    )
    assert_envelope(direct, 404)  # the manager may not see the admin's contact Tim
    assert_envelope(
        client.post(
            f"{GRAPH}/introduce",
            json={"targetId": str(uuid.uuid4()), "message": "x"},
            headers=admin.headers,
        ),
        404,
    )
    nobody = world.contact("Nobody Knows")
    assert_envelope(
        client.post(
            f"{GRAPH}/introduce", json={"targetId": nobody, "message": "x"}, headers=admin.headers
        ),
        422,
    )
    assert_envelope(
        client.post(f"{GRAPH}/introduce", json={"targetId": target}, headers=admin.headers), 422
    )
