"""Jobs end to end on a real queue (SQLite file or Redis) and a real database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.jobs import service
from kith.jobs.models import Job, JobState
from kith.jobs.queue import JobQueue, reap
from kith.runtime import Runtime
from kith.settings import Settings
from tests.assertions import wait_for
from tests.jobs.conftest import finished, job_state
from tests.jobs.sample_jobs import effects

ORG = uuid.uuid4()
REPO = Path(__file__).resolve().parents[2]


def enqueue(database: Database, job_type: str, payload: dict | None = None) -> uuid.UUID:
    with database.transaction() as session:
        job = service.enqueue(session, Principal.system(ORG), job_type, payload or {})
        return job.id


def test_a_job_runs_reports_progress_and_keeps_its_result(
    runtime_factory: Callable[..., Runtime], live_database: Database
) -> None:
    runtime_factory()
    job_id = enqueue(live_database, "test.add", {"a": 2, "b": 3})
    job = wait_for(finished(live_database, job_id))
    assert job.state is JobState.SUCCEEDED
    assert job.result == {"sum": 5}
    assert (job.progress_done, job.progress_total, job.progress_message) == (2, 2, "done")
    assert job.attempts == 1
    assert job.started_at is not None
    assert job.finished_at is not None


def test_an_enqueue_that_rolls_back_leaves_no_job(
    runtime_factory: Callable[..., Runtime], live_database: Database
) -> None:
    runtime_factory()
    try:
        with live_database.transaction() as session:
            service.enqueue(session, Principal.system(ORG), "test.add", {"a": 1, "b": 1})
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    with live_database.transaction() as session:
        assert session.query(Job).count() == 0


def test_transient_failures_are_retried_with_backoff(
    runtime_factory: Callable[..., Runtime], live_database: Database
) -> None:
    runtime_factory()
    job_id = enqueue(live_database, "test.flaky", {"failures": 2})
    job = wait_for(finished(live_database, job_id))
    assert job.state is JobState.SUCCEEDED
    assert job.attempts == 3
    assert job.result == {"attempt": 3}


def test_exhausted_retries_dead_letter_then_manual_retry(
    runtime_factory: Callable[..., Runtime], live_database: Database
) -> None:
    runtime_factory()
    job_id = enqueue(live_database, "test.broken")
    job = wait_for(finished(live_database, job_id))
    assert job.state is JobState.FAILED
    assert job.attempts == 2
    assert job.error == "ValueError: this job always fails"
    with live_database.transaction() as session:
        retried = service.retry(session, Principal.system(ORG), job_id)
        assert retried.state is JobState.QUEUED
    job = wait_for(
        lambda: (
            job_state(live_database, job_id).attempts == 2
            and job_state(live_database, job_id).state is JobState.FAILED
            and job_state(live_database, job_id)
        )
    )
    assert job.state is JobState.FAILED


def test_cancel_a_running_job(
    runtime_factory: Callable[..., Runtime], live_database: Database
) -> None:
    runtime_factory()
    job_id = enqueue(live_database, "test.until_cancelled")
    wait_for(lambda: job_state(live_database, job_id).progress_done >= 2)
    # Reads then writes while the worker writes progress: a write unit of work (a
    # deferred one fails at its first write on SQLite when the worker committed since).
    with live_database.transaction(write=True) as session:
        service.cancel(session, Principal.system(ORG), job_id)
    job = wait_for(finished(live_database, job_id))
    assert job.state is JobState.CANCELLED


def test_a_queued_job_is_cancelled_before_it_runs(live_database: Database) -> None:
    job_id = enqueue(live_database, "test.add", {"a": 1, "b": 2})  # no worker running
    with live_database.transaction() as session:
        service.cancel(session, Principal.system(ORG), job_id)
    assert job_state(live_database, job_id).state is JobState.CANCELLED


def test_a_lost_wake_up_is_recovered_by_the_reaper(
    queue_settings: Settings, live_database: Database, runtime_factory: Callable[..., Runtime]
) -> None:
    service.set_waker(None)  # nobody is told about this job
    job_id = enqueue(live_database, "test.add", {"a": 4, "b": 4})
    runtime_factory()
    with live_database.transaction() as session:  # it has been waiting a while
        session.execute(
            update(Job).where(Job.id == job_id).values(run_after=utcnow() - timedelta(minutes=5))
        )
    assert reap(live_database)["rewoken"] == 1
    assert wait_for(finished(live_database, job_id)).state is JobState.SUCCEEDED


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KITH_ENV="test",
        KITH_DATABASE_URL=settings.database_url,
        KITH_DATA_DIR=str(settings.data_dir),
        KITH_QUEUE_NAME=settings.queue_name,
        KITH_SECRET_KEY=settings.resolved_secret_key,
        KITH_ENCRYPTION_KEYS=settings.encryption_keys.get_secret_value(),  # type: ignore[union-attr]
        KITH_BLIND_INDEX_KEY=settings.resolved_blind_index_key.decode(),
        KITH_LOG_LEVEL="WARNING",
    )
    env.pop("KITH_REDIS_URL", None)
    if settings.redis_url:
        env["KITH_REDIS_URL"] = settings.redis_url
    return env


WORKER = (
    "import tests.jobs.sample_jobs; from kith.cli.main import app; "
    "app(['worker', '--threads', '1'])"
)


def test_kill_9_mid_job_the_job_is_retried_and_completes_once(
    queue_settings: Settings, live_database: Database, runtime_factory: Callable[..., Runtime]
) -> None:
    from tests.jobs.sample_jobs import StepEffect

    StepEffect.__table__.create(live_database.engine, checkfirst=True)
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        cwd=REPO,
        env=_worker_env(queue_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    JobQueue(queue_settings, live_database).install()  # this process only enqueues
    try:
        job_id = enqueue(live_database, "test.steps", {"steps": 12, "delay": 0.15})
        try:
            wait_for(lambda: job_state(live_database, job_id).progress_done >= 3, timeout=30)
        except AssertionError:
            worker.kill()
            raise AssertionError(worker.communicate()[1].decode()[-3000:]) from None
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    interrupted = job_state(live_database, job_id)
    assert interrupted.state is JobState.RUNNING  # Huey never learns it was lost
    done_before = len(effects(live_database, job_id))
    assert 3 <= done_before < 12

    runtime_factory(workers=1)
    # Once the dead worker's lease expires, the reaper hands the job back.
    assert reap(live_database)["requeued"] == 0  # not before the lease has expired
    wait_for(lambda: reap(live_database)["requeued"] == 1, timeout=10, interval=0.25)
    job = wait_for(finished(live_database, job_id), timeout=30)
    assert job.state is JobState.SUCCEEDED
    assert job.attempts == 2
    assert effects(live_database, job_id) == list(range(12))  # every step exactly once
    assert job.result == {"steps": 12, "resumedAt": done_before}
