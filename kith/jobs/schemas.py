"""Wire shapes of jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kith.http.wire import ApiModel
from kith.jobs.models import Job, JobState


class JobProgress(ApiModel):
    done: int
    total: int | None
    message: str | None
    percent: float | None


class JobOut(ApiModel):
    id: uuid.UUID
    type: str
    state: JobState
    progress: JobProgress
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    created_by: uuid.UUID | None
    created_at: datetime
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        total = job.progress_total
        percent = round(100.0 * job.progress_done / total, 1) if total else None
        return cls(
            id=job.id,
            type=job.type,
            state=job.state,
            progress=JobProgress(
                done=job.progress_done, total=total, message=job.progress_message, percent=percent
            ),
            result=job.result,
            error=job.error,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            cancel_requested=job.cancel_requested,
            created_by=job.created_by,
            created_at=job.created_at,
            run_after=job.run_after,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
