"""The queue: Huey (SQLite file or Redis) wakes workers; job rows are the truth.

Huey does not acknowledge tasks — a task running when its consumer is killed is
lost (huey #559, #844). So a worker *claims* job rows with a lease that its process
keeps renewing; the reaper (every minute) re-queues jobs whose lease expired and
re-wakes queued jobs whose wake-up was lost. A claim is one atomic
``UPDATE … RETURNING`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so a duplicate
wake-up never runs a job twice.

A wake-up is not tied to one job: it tells a worker thread to drain the due jobs. The
thread claims up to ``CLAIM_BATCH`` of them at a time and runs them one after another;
enqueuing n jobs in one transaction sends about n / ``CLAIM_BATCH`` wake-ups. One
keeper thread per worker process renews the leases of every job the process holds,
records finished jobs (many in one transaction, as soon as it is free) and hands
claimed jobs that waited longer than ``HOLD_SECONDS`` behind a slow one back to the
queue, so that another worker takes them.
"""

from __future__ import annotations

import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from croniter import croniter
from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException
from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    case,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from kith.db.engine import Database
from kith.db.types import UTCDateTime, utcnow
from kith.jobs import service
from kith.jobs.context import JobCancelled, JobContext, LeaseLost
from kith.jobs.models import Job, JobState
from kith.jobs.registry import JOB_TYPES, PERIODIC, JobType, periodic
from kith.observability import get_logger
from kith.settings import Settings

log = get_logger("kith.jobs")
OVERDUE_SECONDS = 30
# Jobs one worker thread claims at once when many are due (and jobs per wake-up).
CLAIM_BATCH = 16
# A claimed job still waiting to start after this long goes back to the queue.
HOLD_SECONDS = 1.0
# A wake-up drains due jobs this long, then yields the thread to other Huey tasks.
DRAIN_SECONDS = 2.0
# How often the keeper looks at leases when nothing wakes it.
KEEPER_TICK_SECONDS = 0.25
DEFAULT_LEASE_SECONDS = 60

jobs_table = cast(Table, Job.__table__)
_c = jobs_table.c
Key = tuple[uuid.UUID, uuid.UUID]  # (organization_id, id)


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


def lease_seconds(job_type: str) -> int:
    spec = JOB_TYPES.get(job_type)
    return spec.lease_seconds if spec else DEFAULT_LEASE_SECONDS


def _lease_until(now: datetime) -> ColumnElement[Any]:
    """``lease_expires_at`` of a job of any type claimed at ``now``."""
    by_lease: dict[int, list[str]] = {}
    for spec in JOB_TYPES.values():
        if spec.lease_seconds != DEFAULT_LEASE_SECONDS:
            by_lease.setdefault(spec.lease_seconds, []).append(spec.name)
    default = literal(now + timedelta(seconds=DEFAULT_LEASE_SECONDS), UTCDateTime())
    if not by_lease:
        return default
    whens = [
        (_c.type.in_(names), literal(now + timedelta(seconds=seconds), UTCDateTime()))
        for seconds, names in sorted(by_lease.items())
    ]
    return case(*whens, else_=default)


def _keys_in(keys: Iterable[Key]) -> ColumnElement[bool]:
    return tuple_(_c.organization_id, _c.id).in_(list(keys))


def _cron_validator(expression: str) -> Any:
    def validate(timestamp: Any) -> bool:
        return bool(croniter.match(expression, timestamp))

    return validate


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job row this worker took, as the claim returned it."""

    organization_id: uuid.UUID
    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    cursor: dict[str, Any] | None
    attempts: int
    max_attempts: int
    created_by: uuid.UUID | None

    @property
    def key(self) -> Key:
        return (self.organization_id, self.id)


_CLAIMED_COLUMNS = (
    _c.organization_id,
    _c.id,
    _c.type,
    _c.payload,
    _c.cursor,
    _c.attempts,
    _c.max_attempts,
    _c.created_by,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended, to be recorded on the job row (guarded by the claim)."""

    job: ClaimedJob
    worker_id: str
    state: JobState  # QUEUED: back to the queue for another attempt after ``retry_delay``
    result: dict[str, Any] | None = None
    error: str | None = None
    retry_delay: float = 0.0

    @property
    def plain_success(self) -> bool:
        return self.state is JobState.SUCCEEDED and self.result is None


@dataclass(slots=True)
class _Held:
    job: ClaimedJob
    worker_id: str
    lease: int
    claimed_at: float  # time.monotonic()
    renew_at: float
    started: bool = False


class JobQueue:
    def __init__(self, settings: Settings, database: Database, *, huey: Huey | None = None) -> None:
        self.settings = settings
        self.database = database
        self.huey = huey or make_huey(settings)
        self._work_task = self.huey.task(name="kith.work")(self._work_entry)
        # Wake-ups naming one job, as sent before wake-ups drained the queue.
        self.huey.task(name="kith.run_job")(self._run_job_entry)
        for spec in PERIODIC.values():
            self.huey.periodic_task(_cron_validator(spec.cron), name=f"kith.periodic.{spec.name}")(
                self._periodic_entry(spec.name)
            )
        self.keeper = _Keeper(self)

    # -- waking ----------------------------------------------------------------------
    def install(self) -> None:
        """Make ``kith.jobs.service.enqueue`` wake this queue's workers after commit."""
        service.set_waker(self.wake)

    def uninstall(self) -> None:
        service.set_waker(None)

    def wake(self, count: int = 1, delay: float = 0.0) -> None:
        """Wake workers for ``count`` due jobs: one wake-up per ``CLAIM_BATCH``."""
        for _ in range(max(1, math.ceil(count / CLAIM_BATCH))):
            if delay > 0:
                self._work_task.schedule(delay=delay)
            else:
                self._work_task()

    def _work_entry(self) -> None:
        self.drain()

    def _run_job_entry(self, job_id: str) -> None:
        self.drain()

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

    def stop(self) -> None:
        """Record what this process finished and stop renewing leases."""
        self.keeper.stop()

    # -- claiming --------------------------------------------------------------------
    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction for Core statements (SQLite: it takes the write lock first)."""
        with self.database.transaction(write=True) as session:
            yield session.connection()

    def _claim(
        self, worker_id: str, limit: int, job_id: uuid.UUID | None = None
    ) -> list[ClaimedJob]:
        """Atomically take up to ``limit`` due, queued jobs (oldest first)."""
        now = utcnow()
        due = select(_c.organization_id, _c.id).where(
            _c.state == JobState.QUEUED, _c.run_after <= now
        )
        if job_id is not None:
            due = due.where(_c.id == job_id)
        due = due.order_by(_c.run_after).limit(limit)
        if self.database.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        picked = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
        stmt = (
            update(jobs_table)
            .where(
                tuple_(_c.organization_id, _c.id).in_(select(picked.c.organization_id, picked.c.id))
            )
            .values(
                state=JobState.RUNNING,
                attempts=_c.attempts + 1,
                worker_id=worker_id,
                lease_expires_at=_lease_until(now),
                started_at=now,
                updated_at=now,
            )
            .returning(*_CLAIMED_COLUMNS, _c.run_after)
        )
        with self._transaction() as conn:
            if self.database.dialect == "postgresql":
                # Statistics lag behind a queue that fills in seconds: planned for a few
                # rows, a bitmap scan reads and sorts every queued job to return 16.
                # The (state, run_after) index gives them in order and stops there.
                conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            # RETURNING comes in no particular order: run the oldest first.
            rows = sorted(conn.execute(stmt), key=lambda row: row.run_after)
        claimed = [
            ClaimedJob(
                organization_id=row.organization_id,
                id=row.id,
                type=row.type,
                payload=dict(row.payload or {}),
                cursor=row.cursor,
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                created_by=row.created_by,
            )
            for row in rows
        ]
        if claimed:
            self.keeper.hold(worker_id, claimed)
        return claimed

    # -- running ---------------------------------------------------------------------
    def drain(self, *, seconds: float = DRAIN_SECONDS) -> int:
        """Claim and run due jobs until none is left or ``seconds`` have passed
        (then wake another round); returns how many ran."""
        worker_id = self.worker_id()
        deadline = time.monotonic() + seconds
        ran = 0
        while True:
            claimed = self._claim(worker_id, CLAIM_BATCH)
            ran += self._run_claimed(claimed, worker_id)
            if len(claimed) < CLAIM_BATCH:
                return ran
            if time.monotonic() >= deadline:
                self.wake()
                return ran

    def _run_claimed(self, claimed: Sequence[ClaimedJob], worker_id: str) -> int:
        ran = 0
        try:
            for job in claimed:
                if not self.keeper.start(job.key):
                    continue  # it waited too long and went back to the queue
                outcome = self._execute(job, worker_id)
                ran += 1
                if outcome is None:
                    self.keeper.forget([job.key])
                else:
                    self.keeper.finished(outcome)
        finally:
            self.keeper.hand_back([job.key for job in claimed])
        return ran

    def run(self, job_id: uuid.UUID) -> JobState | None:
        """Run one job now if it can be claimed; returns its new state."""
        worker_id = self.worker_id()
        claimed = self._claim(worker_id, 1, job_id)
        if not claimed:
            return None
        job = claimed[0]
        try:
            self.keeper.start(job.key)
            outcome = self._execute(job, worker_id)
            if outcome is None:
                return None
            recorded = self._record([outcome])
            return outcome.state if job.key in recorded else None
        finally:
            self.keeper.forget([job.key])

    def _execute(self, job: ClaimedJob, worker_id: str) -> Outcome | None:
        """Run the job's function; its outcome, or None when the lease was lost."""
        spec = JOB_TYPES.get(job.type)
        if spec is None:
            return Outcome(job, worker_id, JobState.FAILED, error=f"unknown job type {job.type}")
        ctx = JobContext(
            self.database,
            job_id=job.id,
            organization_id=job.organization_id,
            payload=job.payload,
            cursor=job.cursor,
            worker_id=worker_id,
            attempt=job.attempts,
            created_by=job.created_by,
        )
        try:
            result = spec.func(ctx)
        except JobCancelled:
            return Outcome(job, worker_id, JobState.CANCELLED)
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
                return Outcome(job, worker_id, JobState.QUEUED, error=error, retry_delay=delay)
            return Outcome(job, worker_id, JobState.FAILED, error=error)
        return Outcome(job, worker_id, JobState.SUCCEEDED, result=result)

    # -- recording -------------------------------------------------------------------
    def _record(self, outcomes: Sequence[Outcome]) -> set[Key]:
        """Write outcomes in one transaction, each only while its worker still holds the
        job (its lease may have expired and the job gone to another worker); returns
        the keys recorded. Retried jobs are woken after the commit."""
        now = utcnow()
        recorded: set[Key] = set()
        plain: dict[str, list[Key]] = {}
        with self._transaction() as conn:
            for outcome in outcomes:
                if outcome.plain_success:
                    plain.setdefault(outcome.worker_id, []).append(outcome.job.key)
                    continue
                values = self._values(outcome, now)
                done = conn.execute(
                    update(jobs_table)
                    .where(
                        _c.organization_id == outcome.job.organization_id,
                        _c.id == outcome.job.id,
                        _c.worker_id == outcome.worker_id,
                        _c.state == JobState.RUNNING,
                    )
                    .values(**values)
                )
                if cast(CursorResult[Any], done).rowcount == 1:
                    recorded.add(outcome.job.key)
            for worker_id, keys in plain.items():
                rows = conn.execute(
                    update(jobs_table)
                    .where(_keys_in(keys), _c.worker_id == worker_id, _c.state == JobState.RUNNING)
                    .values(
                        state=JobState.SUCCEEDED,
                        finished_at=now,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    .returning(_c.organization_id, _c.id)
                )
                recorded.update((row.organization_id, row.id) for row in rows)
        for outcome in outcomes:
            if outcome.job.key not in recorded:
                log.warning("job_outcome_dropped_lease_lost", job_id=str(outcome.job.id))
            elif outcome.state is JobState.QUEUED:
                self.wake(1, outcome.retry_delay)
        return recorded

    @staticmethod
    def _values(outcome: Outcome, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {
            "state": outcome.state,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if outcome.state is JobState.QUEUED:
            values.update(
                worker_id=None,
                error=outcome.error,
                run_after=now + timedelta(seconds=outcome.retry_delay),
            )
            return values
        values["finished_at"] = now
        if outcome.result is not None:
            values["result"] = outcome.result
        if outcome.error is not None:
            values["error"] = outcome.error
        return values

    def _renew(self, holds: Sequence[_Held]) -> None:
        """Extend the leases of jobs this process holds (one statement per worker and
        lease length)."""
        now = utcnow()
        groups: dict[tuple[str, int], list[Key]] = {}
        for held in holds:
            groups.setdefault((held.worker_id, held.lease), []).append(held.job.key)
        with self._transaction() as conn:
            for (worker_id, lease), keys in groups.items():
                conn.execute(
                    update(jobs_table)
                    .where(_keys_in(keys), _c.worker_id == worker_id, _c.state == JobState.RUNNING)
                    .values(lease_expires_at=now + timedelta(seconds=lease))
                )

    def _release(self, holds: Sequence[_Held]) -> None:
        """Put claimed jobs that never started back in the queue (their attempt undone)."""
        now = utcnow()
        groups: dict[str, list[Key]] = {}
        for held in holds:
            groups.setdefault(held.worker_id, []).append(held.job.key)
        released = 0
        with self._transaction() as conn:
            for worker_id, keys in groups.items():
                done = conn.execute(
                    update(jobs_table)
                    .where(_keys_in(keys), _c.worker_id == worker_id, _c.state == JobState.RUNNING)
                    .values(
                        state=JobState.QUEUED,
                        attempts=_c.attempts - 1,
                        worker_id=None,
                        lease_expires_at=None,
                        started_at=None,
                        updated_at=now,
                    )
                )
                released += cast(CursorResult[Any], done).rowcount
        if released:
            self.wake(released)

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


@dataclass
class _KeeperState:
    """What one process holds (a forked worker process starts with a fresh one)."""

    pid: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: dict[Key, _Held] = field(default_factory=dict)
    finished: list[Outcome] = field(default_factory=list)
    wake: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class _Keeper:
    """One thread per process: renews the leases of every job the process holds,
    records finished jobs in batches and hands back claimed jobs that waited too long."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._guard = threading.Lock()
        self._state = _KeeperState(os.getpid())

    def _current(self) -> _KeeperState:
        state = self._state
        if state.pid != os.getpid() or state.thread is None or not state.thread.is_alive():
            with self._guard:
                state = self._state
                if state.pid != os.getpid():
                    state = self._state = _KeeperState(os.getpid())
                if state.thread is None or not state.thread.is_alive():
                    state.stopping.clear()
                    state.thread = threading.Thread(
                        target=self._run, args=(state,), daemon=True, name="kith-job-keeper"
                    )
                    state.thread.start()
        return state

    # -- called by worker threads ------------------------------------------------------
    def hold(self, worker_id: str, jobs: Sequence[ClaimedJob]) -> None:
        state = self._current()
        now = time.monotonic()
        with state.lock:
            for job in jobs:
                lease = lease_seconds(job.type)
                state.held[job.key] = _Held(job, worker_id, lease, now, now + lease / 3)

    def start(self, key: Key) -> bool:
        """Mark a claimed job as started; False when it went back to the queue."""
        state = self._state
        with state.lock:
            held = state.held.get(key)
            if held is None or held.started:
                return False
            held.started = True
            return True

    def finished(self, outcome: Outcome) -> None:
        state = self._current()
        with state.lock:
            state.finished.append(outcome)
        state.wake.set()

    def forget(self, keys: Iterable[Key]) -> None:
        state = self._state
        with state.lock:
            for key in keys:
                state.held.pop(key, None)

    def hand_back(self, keys: Iterable[Key]) -> None:
        """Give the claimed jobs among ``keys`` that never started back to the queue."""
        state = self._state
        with state.lock:
            unstarted = [
                state.held.pop(k) for k in keys if k in state.held and not state.held[k].started
            ]
        if unstarted:
            try:
                self.queue._release(unstarted)
            except Exception:  # the reaper re-queues them once their lease expires
                log.warning("job_hand_back_failed", jobs=len(unstarted), exc_info=True)

    def stop(self) -> None:
        state = self._state
        state.stopping.set()
        state.wake.set()
        if state.thread is not None and state.thread is not threading.current_thread():
            state.thread.join(timeout=15)

    # -- the keeper thread ---------------------------------------------------------------
    def _run(self, state: _KeeperState) -> None:
        while not state.stopping.is_set():
            state.wake.wait(KEEPER_TICK_SECONDS)
            state.wake.clear()
            self._round(state)
        self._round(state)

    def _round(self, state: _KeeperState) -> None:
        now = time.monotonic()
        with state.lock:
            finished, state.finished = state.finished, []
            stale = [
                h
                for h in state.held.values()
                if not h.started and now - h.claimed_at > HOLD_SECONDS
            ]
            for held in stale:
                del state.held[held.job.key]
            finished_keys = {o.job.key for o in finished}
            renew = [
                h
                for h in state.held.values()
                if h.renew_at <= now and h.job.key not in finished_keys
            ]
        if finished:
            try:
                self.queue._record(finished)
            except Exception:
                log.warning("job_record_failed", jobs=len(finished), exc_info=True)
                with state.lock:  # try again next round; the leases are still renewed
                    state.finished[:0] = finished
                time.sleep(KEEPER_TICK_SECONDS)
            else:
                self.forget(finished_keys)
        if stale:
            try:
                self.queue._release(stale)
            except Exception:
                log.warning("job_hand_back_failed", jobs=len(stale), exc_info=True)
        if renew:
            try:
                self.queue._renew(renew)
            except Exception:  # the next round retries; the reaper is the backstop
                log.warning("job_lease_renew_failed", jobs=len(renew), exc_info=True)
            else:
                for held in renew:
                    held.renew_at = now + held.lease / 3


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
        overdue = session.execute(
            select(Job.id)
            .where(
                Job.state == JobState.QUEUED,
                Job.run_after < now - timedelta(seconds=OVERDUE_SECONDS),
            )
            .limit(1000)
        ).all()
    if requeued or overdue:
        service.wake(requeued + len(overdue))
    return {"requeued": requeued, "failed": failed, "rewoken": len(overdue)}


@periodic("jobs.reap", "* * * * *")
def reap_jobs(database: Database) -> None:
    """Re-queue jobs of dead workers and re-wake jobs whose wake-up was lost."""
    reap(database)
