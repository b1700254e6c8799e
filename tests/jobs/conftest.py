"""Reading job rows in the job tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select

from kith.db.engine import Database
from kith.jobs.models import Job, JobState


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
