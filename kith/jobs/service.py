"""Creating, reading, cancelling and retrying job records."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.db.base import new_id
from kith.db.hooks import after_commit
from kith.db.types import utcnow
from kith.errors import Conflict, NotFound, ValidationFailed
from kith.jobs.models import TERMINAL, Job, JobState
from kith.jobs.registry import JOB_TYPES

# Installed by the process that owns a queue (app or worker): wake workers for
# ``count`` due jobs, after ``delay`` seconds.
Waker = Callable[[int, float], None]
_waker: Waker | None = None
_WAKE_KEY = "kith_jobs_wake"


def set_waker(waker: Waker | None) -> None:
    global _waker
    _waker = waker


def wake(count: int = 1, delay: float = 0.0) -> None:
    if _waker is not None and count > 0:
        _waker(count, delay)


class _WakeAfterCommit:
    """One wake-up call for every job a transaction enqueued."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.count = 0

    def __call__(self) -> None:
        self.session.info.pop(_WAKE_KEY, None)
        wake(self.count)


@event.listens_for(Session, "after_rollback")
def _forget_wake(session: Session) -> None:
    session.info.pop(_WAKE_KEY, None)  # its after-commit callback is dropped too


def _wake_after_commit(session: Session, delay: float) -> None:
    if delay > 0:
        after_commit(session, lambda: wake(1, delay))
        return
    pending = session.info.get(_WAKE_KEY)
    if pending is None:
        pending = session.info[_WAKE_KEY] = _WakeAfterCommit(session)
        after_commit(session, pending)
    pending.count += 1


def enqueue(
    session: Session,
    principal: Principal,
    job_type: str,
    payload: dict[str, Any] | None = None,
    *,
    run_after: datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Record a job in the caller's transaction (inserted with the transaction's other
    rows); workers are woken after commit, once for all the jobs it enqueued."""
    spec = JOB_TYPES.get(job_type)
    if spec is None:
        raise ValueError(f"unknown job type {job_type!r}")
    now = utcnow()
    job = Job(
        organization_id=principal.organization_id,
        id=new_id(),
        type=job_type,
        state=JobState.QUEUED,
        payload=payload or {},
        progress_done=0,
        attempts=0,
        max_attempts=max_attempts or spec.max_attempts,
        run_after=run_after or now,
        cancel_requested=False,
        created_by=None if principal.kind == "system" else principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    _wake_after_commit(session, max(0.0, (job.run_after - now).total_seconds()))
    return job


def visible_jobs(principal: Principal) -> Select[Job]:
    """ADMINs see every job of the organization; others the jobs they started."""
    stmt = select(Job).where(Job.organization_id == principal.organization_id)
    if principal.role is not Role.ADMIN:
        stmt = stmt.where(Job.created_by == principal.user_id)
    return stmt


def get_job(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    job = session.execute(visible_jobs(principal).where(Job.id == job_id)).scalar_one_or_none()
    if job is None:
        raise NotFound("Job not found.")
    return job


def cancel(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """A queued job is cancelled at once; a running one at its next progress report."""
    job = get_job(session, principal, job_id)
    if job.state in TERMINAL:
        raise Conflict(f"The job already finished ({job.state.value}).", code="JOB_FINISHED")
    if job.state is JobState.QUEUED:
        job.state = JobState.CANCELLED
        job.finished_at = utcnow()
    job.cancel_requested = True
    return job


def retry(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """Put a failed or cancelled job back in the queue with fresh attempts."""
    job = get_job(session, principal, job_id)
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise ValidationFailed.field("state", "Only failed or cancelled jobs can be retried.")
    job.state = JobState.QUEUED
    job.attempts = 0
    job.cancel_requested = False
    job.run_after = utcnow()
    job.finished_at = None
    job.worker_id = None
    job.lease_expires_at = None
    _wake_after_commit(session, 0.0)
    return job
