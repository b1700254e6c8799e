"""Paths, networks and warm paths into a company over HTTP, with the RBAC rule:
contacts the caller may not see are masked and reveal nothing about themselves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from kith.auth.roles import Role
from tests.assertions import assert_envelope
from tests.factories import Member
from tests.graph.conftest import CONTACTS, GRAPH, World


@dataclass
class Chain:
    rep: Member
    colleague: Member
    a: str  # the rep's contact
    b: str  # the colleague's contact (masked for the rep)
    t: str  # the rep's target
    company: str
    b_email: str
    b_phone: str


@pytest.fixture
def chain(client: TestClient, world: World) -> Chain:
    """rep (user) -0.9- A -0.8- B -0.7- T, and A -0.1- T; B belongs to a colleague."""
    rep = world.tenant.member(Role.SALES_REP, name="Rhea Rep")
    colleague = world.tenant.member(Role.SALES_REP, name="Colin Colleague")
    company = client.post(
        "/api/v1/companies", json={"name": "Acme Rockets"}, headers=world.tenant.admin.headers
    ).json()["id"]
    a = world.contact("Alma Alpha", as_=rep)
    b_email = f"bruno.{uuid.uuid4().hex[:6]}@secret.example"
    b_phone = "+14155550123"
    b = world.contact("Bruno Secretive", as_=colleague, email=b_email, phone=b_phone)
    t = world.contact("Tara Target", as_=rep, companyId=company)
    world.relate(str(rep.user_id), a, strength=0.9, a_kind="USER", as_=rep)
    world.relate(a, b, strength=0.8)
    world.relate(b, t, strength=0.7)
    world.relate(a, t, strength=0.1, type="COLLEAGUE")
    return Chain(rep, colleague, a, b, t, company, b_email, b_phone)


def _ids(path: dict) -> list[str | None]:
    return [n["id"] for n in path["nodes"]]


def test_strongest_paths_and_fewest_hops(world: World, chain: Chain) -> None:
    response = world.get("/path", **{"from": chain.a, "to": chain.t, "k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"]["id"] == chain.a
    assert body["to"]["id"] == chain.t
    assert [_ids(p) for p in body["paths"]] == [[chain.a, chain.b, chain.t], [chain.a, chain.t]]
    best = body["paths"][0]
    assert best["strengths"] == [0.8, 0.7]
    assert best["strength"] == pytest.approx(0.56)
    assert best["hops"] == 2
    assert _ids(body["fewestHops"]) == [chain.a, chain.t]
    assert body["fewestHops"]["hops"] == 1


def test_from_defaults_to_the_callers_user_node(world: World, chain: Chain) -> None:
    body = world.get("/path", as_=chain.rep, to=chain.t).json()
    best = body["paths"][0]
    assert best["nodes"][0] == {**best["nodes"][0], "kind": "USER", "id": str(chain.rep.user_id)}
    assert best["strength"] == pytest.approx(0.9 * 0.8 * 0.7)


def test_a_reps_path_through_a_colleagues_contact_is_masked(
    client: TestClient, world: World, chain: Chain
) -> None:
    response = world.get("/path", as_=chain.rep, to=chain.t, k=3)
    assert response.status_code == 200, response.text
    text = response.text
    for secret in ("Bruno", "Secretive", chain.b_email, chain.b_phone, "4155550123", chain.b):
        assert secret not in text, f"{secret!r} leaked"
    masked = response.json()["paths"][0]["nodes"][2]
    assert masked == {
        "kind": "CONTACT",
        "id": None,
        "name": None,
        "companyId": None,
        "company": None,
        "position": None,
        "ownerId": str(chain.colleague.user_id),
        "masked": True,
        "label": "a contact of Colin Colleague",
    }
    # The admin sees the same node in full.
    full = world.get("/path", **{"from": str(chain.rep.user_id), "to": chain.t}).json()
    assert full["paths"][0]["nodes"][2]["id"] == chain.b
    assert full["paths"][0]["nodes"][2]["name"] == "Bruno Secretive"


def test_network_of_a_rep_masks_too(world: World, chain: Chain) -> None:
    response = world.get(f"/network/{chain.a}", as_=chain.rep, depth=3)
    assert response.status_code == 200, response.text
    for secret in ("Bruno", chain.b_email, chain.b):
        assert secret not in response.text


def test_rbac_on_the_ends_of_a_query(world: World, chain: Chain) -> None:
    # The colleague's contact itself cannot be asked about by the rep: 404.
    assert_envelope(world.get("/path", as_=chain.rep, to=chain.b), 404, "NOT_FOUND")
    assert_envelope(world.get(f"/network/{chain.b}", as_=chain.rep), 404)
    assert_envelope(world.get("/path", to=str(uuid.uuid4())), 404)
    assert_envelope(world.get("/path", **{"from": str(uuid.uuid4()), "to": chain.t}), 404)


def test_no_path_is_an_empty_answer(world: World, chain: Chain) -> None:
    loner = world.contact("Lone Wolf")
    body = world.get("/path", **{"from": chain.a, "to": loner}).json()
    assert body["paths"] == []
    assert body["fewestHops"] is None
    assert body["to"]["id"] == loner
    alone = world.get(f"/network/{loner}").json()
    assert [n["node"]["id"] for n in alone["nodes"]] == [loner]
    assert alone["edges"] == []


def test_network_depth_limit_and_truncation(world: World, chain: Chain) -> None:
    one = world.get(f"/network/{chain.a}", depth=1).json()
    ids = [n["node"]["id"] for n in one["nodes"]]
    assert ids[0] == chain.a
    assert set(ids) == {chain.a, chain.b, chain.t, str(chain.rep.user_id)}
    assert one["truncated"] is False
    strengths = [n["pathStrength"] for n in one["nodes"]]
    assert strengths == sorted(strengths, reverse=True)
    for edge in one["edges"]:
        assert 0 <= edge["source"] < len(one["nodes"])
        assert 0 <= edge["target"] < len(one["nodes"])
    capped = world.get(f"/network/{chain.a}", depth=3, limit=2).json()
    assert len(capped["nodes"]) == 2
    assert capped["truncated"] is True
    strong = world.get(f"/network/{chain.t}", depth=1, minStrength=0.5).json()
    assert {n["node"]["id"] for n in strong["nodes"]} == {chain.t, chain.b}
    assert_envelope(world.get(f"/network/{chain.a}", depth=4), 422, "VALIDATION_ERROR")
    assert_envelope(world.get(f"/network/{chain.a}", limit=501), 422)


def test_changes_show_in_the_next_query(client: TestClient, world: World, chain: Chain) -> None:
    assert world.get("/path", **{"from": chain.a, "to": chain.t}).json()["paths"][0]["hops"] == 2
    direct = client.get(
        f"{GRAPH}/relationships",
        params={"contactId": chain.t, "type": "COLLEAGUE"},
        headers=world.tenant.admin.headers,
    ).json()["data"][0]
    client.patch(
        f"{GRAPH}/relationships/{direct['id']}",
        json={"strength": 0.99},
        headers=world.tenant.admin.headers,
    )
    best = world.get("/path", **{"from": chain.a, "to": chain.t}).json()["paths"][0]
    assert _ids(best) == [chain.a, chain.t]
    assert best["strength"] == pytest.approx(0.99)
    client.delete(f"{GRAPH}/relationships/{direct['id']}", headers=world.tenant.admin.headers)
    best = world.get("/path", **{"from": chain.a, "to": chain.t}).json()["paths"][0]
    assert _ids(best) == [chain.a, chain.b, chain.t]


def test_a_deleted_contact_disappears_from_paths(
    client: TestClient, world: World, chain: Chain
) -> None:
    assert len(world.get("/path", **{"from": chain.a, "to": chain.t}).json()["paths"]) == 2
    deleted = client.delete(f"{CONTACTS}/{chain.b}", headers=world.tenant.admin.headers)
    assert deleted.status_code == 204
    body = world.get("/path", **{"from": chain.a, "to": chain.t, "k": 3}).json()
    assert [_ids(p) for p in body["paths"]] == [[chain.a, chain.t]]
    network = world.get(f"/network/{chain.a}", depth=3).json()
    assert chain.b not in {n["node"]["id"] for n in network["nodes"]}


def test_warm_paths_into_a_company(client: TestClient, world: World, chain: Chain) -> None:
    other = world.contact("Otto Other", companyId=chain.company)  # the admin's, unreachable
    far = world.contact("Fay Far", as_=chain.colleague, companyId=chain.company)
    world.relate(chain.t, far, strength=0.5)
    response = world.get(f"/companies/{chain.company}/paths", as_=chain.rep)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totalCount"] == 3
    rows = body["data"]
    assert rows[0]["contact"]["id"] == chain.t
    assert rows[0]["path"]["strength"] == pytest.approx(0.504)
    assert rows[1]["contact"]["masked"] is True  # Fay, the colleague's, via T
    assert rows[1]["path"]["strength"] == pytest.approx(0.504 * 0.5)
    assert rows[2]["path"] is None  # Otto: no path from the rep
    for secret in ("Fay", "Otto", far, other, "Bruno"):
        assert secret not in response.text
    paged = world.get(f"/companies/{chain.company}/paths", as_=chain.rep, limit=2).json()
    assert paged["pagination"]["hasNext"] is True
    assert len(paged["data"]) == 2
    assert_envelope(world.get(f"/companies/{uuid.uuid4()}/paths"), 404)
