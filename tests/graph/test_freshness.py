"""Two API processes on one database (two Database objects, so two graph caches):
a change committed through one is in the very next query of the other, applied
from the change log; a process behind a pruned log rebuilds its graph."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from kith.app import create_app
from kith.db.engine import Database
from kith.graph import cache as graph_cache
from kith.graph import changelog
from kith.settings import Settings
from tests.factories import Factory
from tests.graph.conftest import World


def _path_ids(client: TestClient, headers: dict[str, str], a: str, b: str) -> list[list[str]]:
    response = client.get(
        "/api/v1/graph/path", params={"from": a, "to": b, "k": 5}, headers=headers
    )
    assert response.status_code == 200, response.text
    return [[n["id"] for n in p["nodes"]] for p in response.json()["paths"]]


def test_the_next_query_of_another_process_sees_a_commit(
    live_settings: Settings, live_database: Database
) -> None:
    second = Database.from_settings(live_settings)
    try:
        factory = Factory(live_database, live_settings)
        tenant = factory.tenant()
        headers = tenant.admin.headers
        with (
            TestClient(create_app(live_settings, database=live_database)) as one,
            TestClient(create_app(live_settings, database=second)) as two,
        ):
            writer = World(one, tenant)
            a, b, c = writer.contact("Ada"), writer.contact("Ben"), writer.contact("Cal")
            ab = writer.relate(a, b, strength=0.5)
            assert _path_ids(two, headers, a, c) == []  # process two builds its graph
            cache_two = graph_cache._caches[second.engine]
            assert cache_two.loads == 1

            bc = writer.relate(b, c, strength=0.5)  # committed by process one
            assert _path_ids(two, headers, a, c) == [[a, b, c]]
            writer.relate(a, c, strength=0.2)
            assert _path_ids(two, headers, a, c) == [[a, b, c], [a, c]]
            one.patch(
                f"/api/v1/graph/relationships/{ab['id']}", json={"strength": 0.1}, headers=headers
            )
            assert _path_ids(two, headers, a, c) == [[a, c], [a, b, c]]
            one.delete(f"/api/v1/graph/relationships/{bc['id']}", headers=headers)
            assert _path_ids(two, headers, a, c) == [[a, c]]
            # All of it from the change log: process two never rebuilt.
            assert cache_two.loads == 1

            # A process behind a log that no longer reaches its version rebuilds.
            with live_database.transaction(write=True) as session:
                changelog.record_reload(session, tenant.organization_id)
            d = writer.contact("Dee")
            writer.relate(c, d, strength=0.9)
            assert _path_ids(two, headers, a, d) == [[a, c, d]]
            assert cache_two.loads == 2
    finally:
        second.dispose()


def test_log_pruning_keeps_recent_versions(
    live_settings: Settings, live_database: Database
) -> None:
    factory = Factory(live_database, live_settings)
    tenant = factory.tenant()
    org = tenant.organization_id
    nodes = [("contact", uuid.uuid4()) for _ in range(3)]
    with live_database.transaction(write=True) as session:
        for node in nodes:
            changelog.record(session, org, removed_nodes=[node])
    with live_database.transaction(write=True) as session:
        assert changelog.prune(session, org) == 0  # young and few: kept
        state = changelog.state(session, org)
        assert state.version == 3
        assert changelog.since(session, org, 0, state) is not None
        changelog.record_reload(session, org)
        state = changelog.state(session, org)
        assert changelog.since(session, org, 3, state) is None
        assert changelog.since(session, org, state.version, state) == []
