"""Contacts deleted or restored reach every process's graph through the outbox:
the graph domain's handlers log the change, so a process that cached the graph
drops (or gets back) the contact on its next query."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from kith.app import create_app
from kith.db.engine import Database
from kith.events.dispatcher import Dispatcher
from kith.graph import cache as graph_cache
from kith.graph import changelog
from kith.settings import Settings
from tests.factories import Factory
from tests.graph.conftest import CONTACTS, World


def test_delete_and_restore_reach_another_process(
    live_settings: Settings, live_database: Database
) -> None:
    second = Database.from_settings(live_settings)
    try:
        tenant = Factory(live_database, live_settings).tenant()
        headers = tenant.admin.headers
        with (
            TestClient(create_app(live_settings, database=live_database)) as one,
            TestClient(create_app(live_settings, database=second)) as two,
        ):
            world = World(one, tenant)
            a, b, c = world.contact("Ann"), world.contact("Bea"), world.contact("Cid")
            world.relate(a, b, strength=0.8)
            world.relate(b, c, strength=0.8)
            reader = World(two, tenant)
            assert reader.get("/path", **{"from": a, "to": c}).json()["paths"]
            graph_two = graph_cache._caches[second.engine]._entries[tenant.organization_id].graph
            assert graph_two.has_node(("contact", uuid.UUID(b)))

            assert one.delete(f"{CONTACTS}/{b}", headers=headers).status_code == 204
            with live_database.transaction() as session:
                version = changelog.state(session, tenant.organization_id).version
            Dispatcher(live_database).dispatch_pending()
            with live_database.transaction() as session:
                state = changelog.state(session, tenant.organization_id)
                assert state.version == version + 1
                logged = changelog.since(session, tenant.organization_id, version, state)
            assert logged is not None
            assert [c.removed for c in logged] == [[("contact", uuid.UUID(b))]]
            network = reader.get(f"/network/{a}", depth=3).json()
            assert [n["node"]["id"] for n in network["nodes"]] == [a]

            restored = one.post(f"{CONTACTS}/{b}/restore", headers=headers)
            assert restored.status_code == 200, restored.text
            Dispatcher(live_database).dispatch_pending()
            path = reader.get("/path", **{"from": a, "to": c}).json()
            assert [n["id"] for n in path["paths"][0]["nodes"]] == [a, b, c]
            assert graph_cache._caches[second.engine].loads == 1
    finally:
        second.dispose()
