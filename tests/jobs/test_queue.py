"""How the queue claims, runs and records jobs: wake-ups per transaction, batch claims
by concurrent workers, leases renewed by the process, jobs handed back from behind a
slow one. Real database, real Huey storage (SQLite file or Redis)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.jobs import service
from kith.jobs.models import Job, JobState
from kith.jobs.queue import CLAIM_BATCH, HOLD_SECONDS, JobQueue, make_huey, reap
from kith.runtime import Runtime
from kith.settings import Settings
from tests.assertions import wait_for
from tests.jobs.conftest import finished, job_state
from tests.jobs.sample_jobs import StepEffect

ORG = uuid.uuid4()


@pytest.fixture
def queue(queue_settings: Settings, live_database: Database) -> Iterator[JobQueue]:
    StepEffect.__table__.create(live_database.engine, checkfirst=True)
    job_queue = JobQueue(queue_settings, live_database, huey=make_huey(queue_settings))
    yield job_queue
    job_queue.stop()
    job_queue.uninstall()
    job_queue.huey.flush()


def enqueue_many(
    database: Database, job_type: str, count: int, payload: dict | None = None
) -> list[uuid.UUID]:
    with database.transaction() as session:
        jobs = [
            service.enqueue(session, Principal.system(ORG), job_type, payload or {})
            for _ in range(count)
        ]
        return [job.id for job in jobs]


def runs_per_job(database: Database) -> dict[uuid.UUID, int]:
    with database.transaction() as session:
        counts: dict[uuid.UUID, int] = {}
        for job_id in session.execute(select(StepEffect.job_id)).scalars():
            counts[job_id] = counts.get(job_id, 0) + 1
        return counts


def all_done(database: Database, ids: list[uuid.UUID]) -> Callable[[], list[Job] | None]:
    def check() -> list[Job] | None:
        with database.transaction() as session:
            jobs = list(session.execute(select(Job).where(Job.id.in_(ids))).scalars())
            for job in jobs:
                session.expunge(job)
        done = [j for j in jobs if j.state in (JobState.SUCCEEDED, JobState.FAILED)]
        return jobs if len(done) == len(ids) else None

    return check


def test_a_transaction_wakes_workers_once_for_all_its_jobs(live_database: Database) -> None:
    calls: list[tuple[int, float]] = []
    service.set_waker(lambda count, delay: calls.append((count, delay)))
    try:
        session = live_database.session()
        try:
            for _ in range(2):
                service.enqueue(session, Principal.system(ORG), "test.add", {"a": 1, "b": 1})
            session.rollback()  # nothing was enqueued: nobody is woken
            for _ in range(3):
                service.enqueue(session, Principal.system(ORG), "test.add", {"a": 1, "b": 1})
            later = utcnow() + timedelta(seconds=30)
            service.enqueue(
                session, Principal.system(ORG), "test.add", {"a": 1, "b": 2}, run_after=later
            )
            assert calls == []  # not before commit
            session.commit()
        finally:
            session.close()
    finally:
        service.set_waker(None)
    assert calls[0] == (3, 0.0)
    assert len(calls) == 2
    count, delay = calls[1]
    assert count == 1
    assert 25 < delay <= 30


def test_one_wake_up_per_claim_batch_and_every_job_runs_once(
    queue: JobQueue, live_database: Database, runtime_factory: Callable[..., Runtime]
) -> None:
    queue.install()
    ids = enqueue_many(live_database, "test.record", 2 * CLAIM_BATCH + 3)
    assert queue.huey.pending_count() == 3  # not one wake-up per job
    queue.uninstall()
    runtime_factory(workers=2)  # its consumer reads the same Huey queue
    jobs = wait_for(all_done(live_database, ids))
    assert {j.state for j in jobs} == {JobState.SUCCEEDED}
    assert {j.attempts for j in jobs} == {1}
    assert runs_per_job(live_database) == dict.fromkeys(ids, 1)


def test_concurrent_drains_never_run_a_job_twice(queue: JobQueue, live_database: Database) -> None:
    ids = enqueue_many(live_database, "test.record", 5 * CLAIM_BATCH)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            barrier.wait()
            queue.drain()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    jobs = wait_for(all_done(live_database, ids))
    assert {j.state for j in jobs} == {JobState.SUCCEEDED}
    assert runs_per_job(live_database) == dict.fromkeys(ids, 1)


def test_jobs_claimed_behind_a_slow_one_go_back_to_the_queue(
    queue: JobQueue, live_database: Database
) -> None:
    (slow,) = enqueue_many(live_database, "test.sleep", 1, {"seconds": 2.5})
    quick = enqueue_many(live_database, "test.record", 3)
    first = threading.Thread(target=queue.drain)  # claims all four, starts the slow one
    first.start()
    try:
        wait_for(lambda: job_state(live_database, slow).state is JobState.RUNNING)
        assert all(job_state(live_database, j).state is JobState.RUNNING for j in quick)
        # After HOLD_SECONDS the process hands the three back, their attempt undone.
        wait_for(
            lambda: all(job_state(live_database, j).state is JobState.QUEUED for j in quick),
            timeout=HOLD_SECONDS + 5,
        )
        assert {job_state(live_database, j).attempts for j in quick} == {0}
        assert queue.drain() == 3  # another worker takes them meanwhile
        done = wait_for(all_done(live_database, quick))
        assert job_state(live_database, slow).state is JobState.RUNNING
    finally:
        first.join(timeout=30)
    slow_job = wait_for(finished(live_database, slow))
    assert slow_job.state is JobState.SUCCEEDED
    assert all(j.finished_at is not None and j.finished_at < slow_job.finished_at for j in done)
    assert {j.attempts for j in done} == {1}
    assert runs_per_job(live_database) == dict.fromkeys(quick, 1)


def test_a_job_running_past_its_lease_keeps_it(queue: JobQueue, live_database: Database) -> None:
    (job_id,) = enqueue_many(live_database, "test.sleep", 1, {"seconds": 3.5})  # lease 2 s
    runner = threading.Thread(target=queue.drain)
    runner.start()
    try:
        wait_for(lambda: job_state(live_database, job_id).state is JobState.RUNNING)
        claimed = job_state(live_database, job_id)
        while runner.is_alive() and job_state(live_database, job_id).state is JobState.RUNNING:
            assert reap(live_database)["requeued"] == 0  # the lease keeps being renewed
            runner.join(timeout=0.3)
    finally:
        runner.join(timeout=30)
    job = wait_for(finished(live_database, job_id))
    assert job.state is JobState.SUCCEEDED
    assert job.attempts == 1
    assert job.result == {"slept": 3.5}
    assert claimed.lease_expires_at is not None
    assert job.finished_at is not None
    assert job.finished_at > claimed.lease_expires_at  # it outlived its first lease
