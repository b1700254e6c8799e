"""What a running job sees: its payload, progress reporting, cancellation and
``step`` — a transaction that commits the job's effect together with its cursor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.jobs.models import Job, JobState


class JobCancelled(Exception):
    """Raised inside a job when someone asked to cancel it."""


class LeaseLost(Exception):
    """This worker no longer owns the job (its lease expired and it was re-queued)."""


class JobContext:
    def __init__(
        self,
        database: Database,
        *,
        job_id: uuid.UUID,
        organization_id: uuid.UUID,
        payload: dict[str, Any],
        cursor: dict[str, Any] | None,
        worker_id: str,
        attempt: int,
        created_by: uuid.UUID | None,
    ) -> None:
        self.database = database
        self.job_id = job_id
        self.organization_id = organization_id
        self.payload = payload
        self.cursor = cursor
        self.worker_id = worker_id
        self.attempt = attempt
        self.created_by = created_by
        self._cancel_seen = False

    @property
    def principal(self) -> Principal:
        """Jobs act as the organization's system principal."""
        return Principal.system(self.organization_id)

    def _mine(self) -> Any:
        return (
            (Job.organization_id == self.organization_id)
            & (Job.id == self.job_id)
            & (Job.worker_id == self.worker_id)
            & (Job.state == JobState.RUNNING)
        )

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record progress (and renew the lease); raises JobCancelled when asked to stop."""
        values: dict[str, Any] = {"progress_done": done, "updated_at": utcnow()}
        if total is not None:
            values["progress_total"] = total
        if message is not None:
            values["progress_message"] = message[:500]
        with self.database.transaction() as session:
            self._update(session, values)
        self.check_cancelled()

    @contextmanager
    def step(
        self,
        cursor: dict[str, Any],
        *,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> Iterator[Session]:
        """A transaction for one unit of work: what the block writes commits together
        with ``cursor`` (and progress), so a retried job resumes after it exactly once."""
        with self.database.transaction(write=True) as session:
            yield session
            values: dict[str, Any] = {"cursor": cursor, "updated_at": utcnow()}
            if done is not None:
                values["progress_done"] = done
            if total is not None:
                values["progress_total"] = total
            if message is not None:
                values["progress_message"] = message[:500]
            self._update(session, values)
        self.cursor = cursor
        self.check_cancelled()

    def _update(self, session: Session, values: dict[str, Any]) -> None:
        result = session.execute(
            update(Job)
            .where(self._mine())
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], result).rowcount != 1:
            raise LeaseLost(f"job {self.job_id} is no longer owned by {self.worker_id}")

    def check_cancelled(self) -> None:
        with self.database.transaction() as session:
            job = session.get(Job, (self.organization_id, self.job_id))
            if job is not None and job.cancel_requested:
                raise JobCancelled()
