"""The analytics job end to end: requested over HTTP, run by a real worker,
stored, and read back as influence and communities."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from kith.app import create_app
from kith.db.engine import Database
from kith.graph import tasks
from kith.jobs.models import Job
from kith.runtime import Runtime
from kith.settings import Settings
from tests.assertions import assert_envelope, wait_for
from tests.factories import Factory
from tests.graph.conftest import GRAPH, World


def test_influence_and_communities_from_the_background_job(
    live_settings: Settings,
    live_database: Database,
    runtime_factory: Callable[..., Runtime],
) -> None:
    factory = Factory(live_database, live_settings)
    tenant = factory.tenant()
    headers = tenant.admin.headers
    with TestClient(create_app(live_settings, database=live_database)) as client:
        world = World(client, tenant)
        acme = client.post("/api/v1/companies", json={"name": "Acme"}, headers=headers).json()
        globex = client.post("/api/v1/companies", json={"name": "Globex"}, headers=headers).json()
        hub = world.contact("Hub Acme", companyId=acme["id"], tags=["vip"])
        acmes = [world.contact(f"A{i} Acme", companyId=acme["id"]) for i in range(4)]
        globexes = [world.contact(f"G{i} Globex", companyId=globex["id"]) for i in range(4)]
        for i, a in enumerate(acmes):
            world.relate(hub, a, strength=0.9)
            world.relate(a, acmes[(i + 1) % 4], strength=0.8)
        for i, g in enumerate(globexes):
            for h in globexes[i + 1 :]:
                world.relate(g, h, strength=0.9)
        world.relate(acmes[0], globexes[0], strength=0.05)

        # Before any run: pending, with one queued job however often it is asked.
        first = world.get(f"/influence/{hub}").json()
        assert first["status"] == "PENDING"
        assert first["pagerank"] is None
        assert world.get(f"/influence/{hub}").json()["jobId"] == first["jobId"]
        started = client.post(f"{GRAPH}/analytics", headers=headers)
        assert started.status_code == 202
        assert started.json()["jobId"] == first["jobId"]

        # A worker starts after the job was queued: woken, it claims it from the table.
        runtime_factory(workers=1).queue.wake()

        def finished() -> dict | None:
            job = client.get(f"/api/v1/jobs/{first['jobId']}", headers=headers).json()
            return job if job["state"] in {"SUCCEEDED", "FAILED"} else None

        job = wait_for(finished, timeout=60)
        assert job["state"] == "SUCCEEDED", job
        assert job["progress"]["percent"] == 100.0
        assert job["result"]["nodes"] == 9
        assert job["result"]["communities"] == 2

        influence = world.get(f"/influence/{hub}").json()
        assert influence["status"] == "READY"
        assert influence["degree"] == 4
        assert influence["computedAt"] is not None
        others = [world.get(f"/influence/{g}").json() for g in globexes]
        assert all(influence["pagerank"] > 0 for _ in others)
        assert influence["percentile"] >= max(o["percentile"] for o in others)
        # A contact with no relationship was not in the graph: ready, no metrics.
        loner = world.get(f"/influence/{world.contact('Lone')}").json()
        assert loner["status"] == "READY"
        assert loner["pagerank"] is None

        listed = world.get("/communities").json()
        assert listed["totalCount"] == 2
        labels = {c["label"] for c in listed["data"]}
        assert any(label.startswith("Acme") for label in labels)
        assert any(label.startswith("Globex") for label in labels)
        acme_community = next(c for c in listed["data"] if c["topCompanies"][0] == "Acme")
        assert influence["communityId"] == acme_community["id"]
        assert acme_community["size"] == 5
        detail = world.get(f"/communities/{acme_community['id']}").json()
        ranks = [m["pagerank"] for m in detail["members"]]
        assert ranks == sorted(ranks, reverse=True)
        assert detail["members"][0]["node"]["id"] == hub
        assert detail["membersTruncated"] is False
        assert_envelope(world.get(f"/communities/{tenant.organization_id}"), 404)


def test_nightly_tasks_queue_one_job_per_organization(client: TestClient, world: World) -> None:
    world.relate(world.contact("Ann"), world.contact("Bob"), strength=0.5)
    quiet = world.tenant.factory.tenant()  # no relationships: nothing to compute
    database = world.tenant.factory.database
    tasks.nightly_analytics(database)
    tasks.nightly_analytics(database)  # one pending computation is enough
    tasks.nightly_strength(database)
    tasks.prune_changes(database)
    with database.transaction() as session:
        jobs = session.execute(
            select(Job.organization_id, Job.type).where(
                Job.organization_id.in_([world.tenant.organization_id, quiet.organization_id])
            )
        ).all()
    assert sorted(t for _, t in jobs) == ["graph.analytics", "graph.recompute_strength"]
    assert {org for org, _ in jobs} == {world.tenant.organization_id}
