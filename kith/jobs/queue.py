"""The queue: Huey (SQLite file or Redis) wakes workers; job rows are the truth.

Huey does not acknowledge tasks — a task running when its consumer is killed is
lost (huey #559, #844). So a worker *claims* the job row with a lease it keeps
renewing; the reaper (every minute) re-queues jobs whose lease expired and
re-wakes queued jobs whose wake-up was lost. A claim is an atomic UPDATE, so a
duplicate wake-up never runs a job twice.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any, cast

from croniter import croniter
from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException
from sqlalchemy import CursorResult, select, update

from kith.db.engine import Database
from kith.db.types import utcnow
from kith.jobs import service
from kith.jobs.context import JobCancelled, JobContext, LeaseLost
from kith.jobs.models import Job, JobState
from kith.jobs.registry import JOB_TYPES, PERIODIC, JobType, periodic
from kith.observability import get_logger
from kith.settings import Settings

log = get_logger("kith.jobs")
OVERDUE_SECONDS = 30


def make_huey(settings: Settings, name: str | None = None) -> Huey:
    name = name or settings.queue_name
    if settings.redis_url:
        return RedisHuey(name=name, url=settings.redis_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name=name, filename=str(settings.data_dir / "queue.db"), results=False)


def backoff_seconds(spec: JobType, attempt: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    ceiling = min(spec.backoff_max_seconds, spec.backoff_base_seconds * 2.0 ** max(0, attempt - 1))
    jitter: float = random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto
    return ceiling / 2 + jitter


def _cron_validator(expression: str) -> Any:
    def validate(timestamp: Any) -> bool:
        return bool(croniter.match(expression, timestamp))

    return validate


class JobQueue:
    def __init__(self, settings: Settings, database: Database, *, huey: Huey | None = None) -> None:
        self.settings = settings
        self.database = database
        self.huey = huey or make_huey(settings)
        self._run_task = self.huey.task(name="kith.run_job")(self._run_task_entry)
        for spec in PERIODIC.values():
            self.huey.periodic_task(_cron_validator(spec.cron), name=f"kith.periodic.{spec.name}")(
                self._periodic_entry(spec.name)
            )

    # -- waking ----------------------------------------------------------------------
    def install(self) -> None:
        """Make ``kith.jobs.service.enqueue`` wake this queue's workers after commit."""
        service.set_waker(self.wake)

    def uninstall(self) -> None:
        service.set_waker(None)

    def wake(self, job_id: uuid.UUID, delay: float = 0.0) -> None:
        if delay > 0:
            self._run_task.schedule(args=(str(job_id),), delay=delay)
        else:
            self._run_task(str(job_id))

    def _run_task_entry(self, job_id: str) -> None:
        self.run(uuid.UUID(job_id))

    def _periodic_entry(self, name: str) -> Any:
        def entry() -> None:
            spec = PERIODIC[name]
            try:
                with self.huey.lock_task(f"periodic:{name}"):
                    spec.func(self.database)
            except TaskLockedException:
                log.info("periodic_skipped_locked", task=name)

        entry.__name__ = f"periodic_{name.replace('.', '_')}"
        return entry

    # -- running ---------------------------------------------------------------------
    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def claim(self, job_id: uuid.UUID, worker_id: str) -> Job | None:
        """Atomically take a due, queued job; None when someone else has it."""
        now = utcnow()
        with self.database.transaction(write=True) as session:
            job = session.execute(select(Job).where(Job.id == job_id)).scalar_one_or_none()
            if job is None:
                return None
            spec = JOB_TYPES.get(job.type)
            lease = spec.lease_seconds if spec else 60
            result = session.execute(
                update(Job)
                .where(
                    Job.organization_id == job.organization_id,
                    Job.id == job_id,
                    Job.state == JobState.QUEUED,
                    Job.run_after <= now,
                )
                .values(
                    state=JobState.RUNNING,
                    attempts=Job.attempts + 1,
                    worker_id=worker_id,
                    lease_expires_at=now + timedelta(seconds=lease),
                    started_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], result).rowcount != 1:
                return None
            session.refresh(job)
            session.expunge(job)
            return job

    def run(self, job_id: uuid.UUID) -> JobState | None:
        """Run one job if it can be claimed; returns its new state."""
        worker_id = self.worker_id()
        job = self.claim(job_id, worker_id)
        if job is None:
            return None
        spec = JOB_TYPES.get(job.type)
        if spec is None:
            return self._finish(
                job, worker_id, JobState.FAILED, error=f"unknown job type {job.type}"
            )
        ctx = JobContext(
            self.database,
            job_id=job.id,
            organization_id=job.organization_id,
            payload=dict(job.payload or {}),
            cursor=job.cursor,
            worker_id=worker_id,
            attempt=job.attempts,
            created_by=job.created_by,
        )
        heartbeat = _Heartbeat(self, job, worker_id, spec.lease_seconds)
        heartbeat.start()
        try:
            result = spec.func(ctx)
        except JobCancelled:
            return self._finish(job, worker_id, JobState.CANCELLED)
        except LeaseLost:
            log.warning("job_lease_lost", job_id=str(job.id))
            return None
        except Exception as exc:
            log.warning(
                "job_failed", job_id=str(job.id), type=job.type, attempt=job.attempts, exc_info=exc
            )
            error = f"{type(exc).__name__}: {exc}"[:4000]
            if job.attempts < job.max_attempts:
                delay = backoff_seconds(spec, job.attempts)
                return self._requeue(job, worker_id, error, delay)
            return self._finish(job, worker_id, JobState.FAILED, error=error)
        finally:
            heartbeat.stop()
        return self._finish(job, worker_id, JobState.SUCCEEDED, result=result)

    def _finish(
        self,
        job: Job,
        worker_id: str,
        state: JobState,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> JobState | None:
        now = utcnow()
        values: dict[str, Any] = {
            "state": state,
            "finished_at": now,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if result is not None:
            values["result"] = result
        if error is not None:
            values["error"] = error
        return state if self._update_running(job, worker_id, values) else None

    def _requeue(self, job: Job, worker_id: str, error: str, delay: float) -> JobState | None:
        now = utcnow()
        values = {
            "state": JobState.QUEUED,
            "error": error,
            "worker_id": None,
            "lease_expires_at": None,
            "run_after": now + timedelta(seconds=delay),
            "updated_at": now,
        }
        if not self._update_running(job, worker_id, values):
            return None
        self.wake(job.id, delay)
        return JobState.QUEUED

    def renew(self, job: Job, worker_id: str, lease_seconds: int) -> bool:
        expires = utcnow() + timedelta(seconds=lease_seconds)
        return self._update_running(job, worker_id, {"lease_expires_at": expires})

    def _update_running(self, job: Job, worker_id: str, values: dict[str, Any]) -> bool:
        """Change the job only while this worker still runs it (its lease may have
        expired and the job gone to another worker)."""
        with self.database.transaction() as session:
            done = session.execute(
                update(Job)
                .where(
                    Job.organization_id == job.organization_id,
                    Job.id == job.id,
                    Job.worker_id == worker_id,
                    Job.state == JobState.RUNNING,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return cast(CursorResult[Any], done).rowcount == 1

    # -- consumers -------------------------------------------------------------------
    def consumer(
        self, *, workers: int = 2, worker_type: str = "thread", periodic: bool = True
    ) -> Consumer:
        return self.huey.create_consumer(
            workers=workers,
            worker_type=worker_type,
            periodic=periodic,
            initial_delay=0.05,
            max_delay=1.0,
            backoff=1.5,
            check_worker_health=True,
        )

    def embedded(self, *, workers: int = 2, periodic: bool = True) -> EmbeddedConsumer:
        return EmbeddedConsumer(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=periodic,
            initial_delay=0.05,
            max_delay=1.0,
            backoff=1.5,
        )


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer running inside the API process (``kith serve``): worker and
    scheduler threads, without taking over the server's signal handlers."""

    def _set_signal_handlers(self) -> None:
        return None


class _Heartbeat:
    """Renews a running job's lease from a side thread."""

    def __init__(self, queue: JobQueue, job: Job, worker_id: str, lease_seconds: int) -> None:
        self.queue, self.job, self.worker_id = queue, job, worker_id
        self.lease = lease_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="kith-job-lease")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(max(1.0, self.lease / 3)):
            try:
                if not self.queue.renew(self.job, self.worker_id, self.lease):
                    return
            except Exception:  # the next beat retries; the reaper is the backstop
                log.warning("job_lease_renew_failed", job_id=str(self.job.id))


def reap(database: Database) -> dict[str, int]:
    """Re-queue jobs whose worker died (lease expired) and re-wake overdue jobs."""
    now = utcnow()
    requeued = failed = 0
    with database.transaction(write=True) as session:
        expired = (
            session.execute(
                select(Job).where(Job.state == JobState.RUNNING, Job.lease_expires_at < now)
            )
            .scalars()
            .all()
        )
        for job in expired:
            job.worker_id = None
            job.lease_expires_at = None
            job.error = "the worker running this job stopped (lease expired)"
            if job.attempts >= job.max_attempts:
                job.state = JobState.FAILED
                job.finished_at = now
                failed += 1
            else:
                job.state = JobState.QUEUED
                job.run_after = now
                requeued += 1
        wake_ids = [j.id for j in expired if j.state is JobState.QUEUED]
        overdue = (
            session.execute(
                select(Job.id)
                .where(
                    Job.state == JobState.QUEUED,
                    Job.run_after < now - timedelta(seconds=OVERDUE_SECONDS),
                )
                .limit(1000)
            )
            .scalars()
            .all()
        )
    for job_id in [*wake_ids, *overdue]:
        service.wake(job_id)
    return {"requeued": requeued, "failed": failed, "rewoken": len(overdue)}


@periodic("jobs.reap", "* * * * *")
def reap_jobs(database: Database) -> None:
    """Re-queue jobs of dead workers and re-wake jobs whose wake-up was lost."""
    reap(database)
