"""load_graph reads the relationships table into the engine: users as user nodes,
trashed contacts and zero-strength ties left out, one edge per pair (the
strongest), nodes in id order whatever the backend's row order."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from kith.graph import changelog
from kith.graph.loader import load_graph
from tests.graph.conftest import CONTACTS, World


def test_load_graph(client: TestClient, world: World) -> None:
    a, b, c, gone = (world.contact(n) for n in ("Ann", "Bob", "Cy", "Gone"))
    me = str(world.tenant.admin.user_id)
    world.relate(a, b, strength=0.3, type="FRIEND")
    world.relate(b, a, strength=0.6, type="COLLEAGUE")
    world.relate(me, a, a_kind="USER", strength=0.9)
    world.relate(b, c, strength=0.0)  # a manual zero: no edge
    world.relate(c, gone, strength=0.5)
    client.delete(f"{CONTACTS}/{gone}", headers=world.tenant.admin.headers)

    org = world.tenant.organization_id
    with world.tenant.factory.database.transaction() as session:
        graph = load_graph(session, org)
        version = changelog.state(session, org).version
    assert graph.version == version
    key = {x: ("contact", uuid.UUID(x)) for x in (a, b, c, gone)}
    user = ("user", uuid.UUID(me))
    assert graph.has_node(user)
    assert graph.strength(key[a], key[b]) == pytest.approx(0.6)
    assert graph.strength(user, key[a]) == pytest.approx(0.9)
    assert not graph.has_node(key[gone])
    assert graph.degree(key[b]) == 1
    live = [k for k in graph._keys if graph.has_node(k)]
    assert [k[1] for k in live] == sorted(k[1] for k in live)
