"""/jobs over HTTP: visibility per role, cancel, retry and the SSE progress stream."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from kith.app import create_app
from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.db.engine import Database
from kith.jobs import service
from kith.jobs.models import JobState
from kith.runtime import Runtime
from kith.settings import Settings
from tests.assertions import assert_envelope
from tests.factories import Factory, Member


def _enqueue(database: Database, member: Member, job_type: str, payload: dict) -> str:
    principal = Principal(member.organization_id, member.user_id, member.role)
    with database.transaction() as session:
        return str(service.enqueue(session, principal, job_type, payload).id)


def test_jobs_are_visible_to_their_starter_and_admins(
    client: TestClient, factory: Factory, db: Database
) -> None:
    tenant = factory.tenant()
    rep, other = tenant.member(Role.SALES_REP), tenant.member(Role.SALES_REP)
    mine = _enqueue(db, rep, "test.add", {"a": 1, "b": 2})
    theirs = _enqueue(db, other, "test.add", {"a": 1, "b": 2})
    listed = client.get("/api/v1/jobs", headers=rep.headers).json()
    assert [j["id"] for j in listed["data"]] == [mine]
    assert listed["data"][0]["state"] == "QUEUED"
    assert listed["data"][0]["progress"] == {
        "done": 0,
        "total": None,
        "message": None,
        "percent": None,
    }
    assert_envelope(client.get(f"/api/v1/jobs/{theirs}", headers=rep.headers), 404)
    admin_view = client.get("/api/v1/jobs?state=QUEUED", headers=tenant.admin.headers).json()
    assert admin_view["totalCount"] == 2
    cancelled = client.post(f"/api/v1/jobs/{mine}/cancel", headers=rep.headers)
    assert cancelled.json()["state"] == "CANCELLED"
    again = client.post(f"/api/v1/jobs/{mine}/cancel", headers=rep.headers)
    assert_envelope(again, 409, "JOB_FINISHED")
    retried = client.post(f"/api/v1/jobs/{mine}/retry", headers=rep.headers)
    assert retried.json()["state"] == "QUEUED"
    not_failed = client.post(f"/api/v1/jobs/{theirs}/retry", headers=tenant.admin.headers)
    assert_envelope(not_failed, 422, "VALIDATION_ERROR")


def test_progress_streams_as_server_sent_events(
    live_settings: Settings,
    live_database: Database,
    runtime_factory: Callable[..., Runtime],
) -> None:
    factory = Factory(live_database, live_settings)
    tenant = factory.tenant()
    app = create_app(live_settings, database=live_database)
    runtime_factory(workers=1)
    job_id = _enqueue(live_database, tenant.admin, "test.steps", {"steps": 5, "delay": 0.6})
    events: list[tuple[str, dict]] = []
    with (
        TestClient(app) as client,
        client.stream(
            "GET", f"/api/v1/jobs/{job_id}/events", headers=tenant.admin.headers
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end"
    assert events[-1][1]["state"] == JobState.SUCCEEDED
    done = [e["progress"]["done"] for k, e in events if k == "progress"]
    assert done == sorted(done)
    # Steps are slower than the stream's poll: progress is shown before the end.
    assert any(0 < d < 5 for d in done), done
    assert events[-1][1]["progress"]["percent"] == 100.0
