"""A live runtime (embedded consumer + dispatcher) on a database of the test's own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kith.db.engine import Database
from kith.jobs.models import Job, JobState
from kith.jobs.queue import make_huey
from kith.runtime import Runtime
from kith.settings import Settings
from tests.jobs.sample_jobs import StepEffect


@pytest.fixture
def queue_settings(live_settings: Settings) -> Settings:
    # Each test gets its own Huey queue (a Redis key prefix, or a SQLite file).
    live_settings.queue_name = f"kith-test-{uuid.uuid4().hex[:10]}"
    return live_settings


@pytest.fixture
def runtime_factory(
    queue_settings: Settings, live_database: Database
) -> Iterator[Callable[..., Runtime]]:
    StepEffect.__table__.create(live_database.engine, checkfirst=True)
    started: list[Runtime] = []

    def start(workers: int = 2, **kwargs: Any) -> Runtime:
        runtime = Runtime(queue_settings, live_database, huey=make_huey(queue_settings), **kwargs)
        runtime.start_embedded(workers=workers)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()
        runtime.queue.huey.flush()


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def job_state(database: Database, job_id: uuid.UUID) -> Job:
    with database.transaction() as session:
        job = session.execute(select(Job).where(Job.id == job_id)).scalar_one()
        session.expunge(job)
        return job


def finished(database: Database, job_id: uuid.UUID) -> Callable[[], Job | None]:
    def check() -> Job | None:
        job = job_state(database, job_id)
        return (
            job if job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED) else None
        )

    return check
