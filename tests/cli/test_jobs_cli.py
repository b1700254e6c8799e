"""`kith schedule` and `kith jobs …` against a private installation."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from kith.db.engine import Database, make_engine
from kith.jobs.models import Job, JobState
from tests.cli.conftest import Installation


def _job(installation: Installation, state: JobState, **values: object) -> uuid.UUID:
    database = Database(make_engine(installation.database_url))
    try:
        with database.transaction() as session:
            job = Job(
                organization_id=uuid.uuid4(),
                type="test.add",
                state=state,
                payload={"a": 1, "b": 2},
                **values,
            )
            session.add(job)
            session.flush()
            return job.id
    finally:
        database.dispose()


def _state(installation: Installation, job_id: uuid.UUID) -> JobState:
    database = Database(make_engine(installation.database_url))
    try:
        with database.transaction() as session:
            return session.execute(select(Job.state).where(Job.id == job_id)).scalar_one()
    finally:
        database.dispose()


def test_schedule_lists_the_periodic_tasks(installation: Installation) -> None:
    result = installation.kith("schedule")
    assert result.exit_code == 0, result.output
    assert "jobs.reap" in result.output
    assert "* * * * *" in result.output
    assert "idempotency.purge" in result.output


def test_jobs_list_show_retry_cancel_follow(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    failed = _job(installation, JobState.FAILED, error="ValueError: boom", attempts=5)
    listed = installation.kith("jobs", "list", "--state", "FAILED")
    assert listed.exit_code == 0, listed.output
    assert str(failed) in listed.output
    assert "FAILED" in listed.output  # the full error is in `jobs show`

    shown = installation.kith("jobs", "show", str(failed))
    assert json.loads(shown.output)["error"] == "ValueError: boom"

    retried = installation.kith("jobs", "retry", str(failed))
    assert retried.exit_code == 0, retried.output
    assert _state(installation, failed) is JobState.QUEUED

    cancelled = installation.kith("jobs", "cancel", str(failed))
    assert cancelled.exit_code == 0, cancelled.output
    assert _state(installation, failed) is JobState.CANCELLED
    again = installation.kith("jobs", "cancel", str(failed))
    assert again.exit_code == 1
    assert "already finished" in again.output

    done = _job(installation, JobState.SUCCEEDED, progress_done=3, progress_total=3)
    followed = installation.kith("jobs", "follow", str(done))
    assert followed.exit_code == 0, followed.output
    assert "SUCCEEDED" in followed.output
    assert installation.kith("jobs", "show", str(uuid.uuid4())).exit_code == 1
