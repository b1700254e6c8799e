"""Merging contacts re-points their relationships (collapsing self-loops and
duplicates), and undoing the merge puts every relationship back exactly."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.graph.conftest import CONTACTS, GRAPH, World


def _all(client: TestClient, world: World) -> list[dict]:
    page = client.get(
        f"{GRAPH}/relationships",
        params={"limit": 100, "sort": "createdAt"},
        headers=world.tenant.admin.headers,
    ).json()
    return sorted(page["data"], key=lambda r: r["id"])


def test_merge_moves_collapses_and_undo_restores(client: TestClient, world: World) -> None:
    keep, dup, other = world.contact("Kim Keep"), world.contact("Kim Dup"), world.contact("Oz")
    me = str(world.tenant.admin.user_id)
    world.relate(keep, other, type="FRIEND", interactionCount=2, notes="old friends")
    world.relate(
        dup, other, type="FRIEND", interactionCount=5, lastInteraction="2026-10-01T00:00:00Z"
    )
    world.relate(dup, other, type="COLLEAGUE", strength=0.6, notes="same team")
    world.relate(keep, dup, type="KNOWS")
    world.relate(me, dup, a_kind="USER", type="KNOWS", strength=0.7)
    before = _all(client, world)

    merged = client.post(
        f"{CONTACTS}/merge",
        json={"primaryId": keep, "duplicateIds": [dup]},
        headers=world.tenant.admin.headers,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"]["graph_relationships"] > 0

    after = _all(client, world)
    pairs = {(frozenset((r["fromId"], r["toId"])), r["type"]): r for r in after}
    assert len(after) == 3
    assert all(dup not in (r["fromId"], r["toId"]) for r in after)
    friend = pairs[(frozenset((keep, other)), "FRIEND")]
    assert friend["interactionCount"] == 7  # the collapsed duplicate's interactions kept
    assert friend["lastInteraction"].startswith("2026-10-01")
    assert friend["notes"] == "old friends"
    assert pairs[(frozenset((keep, other)), "COLLEAGUE")]["notes"] == "same team"
    assert pairs[(frozenset((me, keep)), "KNOWS")]["strength"] == 0.7
    # The self-loop keep-dup is gone, and so is dup from the graph.
    path = client.get(
        f"{GRAPH}/path", params={"to": other}, headers=world.tenant.admin.headers
    ).json()
    assert [n["id"] for n in path["paths"][0]["nodes"]] == [me, keep, other]

    undone = client.post(
        f"{CONTACTS}/merges/{merged.json()['id']}/undo", headers=world.tenant.admin.headers
    )
    assert undone.status_code == 200, undone.text
    assert _all(client, world) == before
    path = client.get(
        f"{GRAPH}/path", params={"to": other, "k": 5}, headers=world.tenant.admin.headers
    ).json()
    assert [n["id"] for n in path["paths"][0]["nodes"]] == [me, dup, other]
