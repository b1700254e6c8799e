"""Job types used by the job tests (imported by the test process and by worker
subprocesses started from the tests)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import Integer, String, Uuid, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kith.jobs.context import JobContext
from kith.jobs.registry import job_type


class _Base(DeclarativeBase):
    pass


class StepEffect(_Base):
    """One row per unit of work of ``test.steps`` (created in the live test database)."""

    __tablename__ = "test_job_step_effects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    step: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))


def effects(database: Any, job_id: uuid.UUID) -> list[int]:
    with database.transaction() as session:
        rows = session.execute(
            select(StepEffect.step).where(StepEffect.job_id == job_id).order_by(StepEffect.step)
        )
        return list(rows.scalars())


def effect_count(database: Any) -> int:
    with database.transaction() as session:
        return int(session.execute(select(func.count()).select_from(StepEffect)).scalar_one())


@job_type("test.add", max_attempts=1)
def add(ctx: JobContext) -> dict[str, Any]:
    ctx.progress(0, 2, "adding")
    total = int(ctx.payload["a"]) + int(ctx.payload["b"])
    ctx.progress(2, 2, "done")
    return {"sum": total}


@job_type("test.flaky", max_attempts=4, backoff_base_seconds=0.05, backoff_max_seconds=0.2)
def flaky(ctx: JobContext) -> dict[str, Any]:
    if ctx.attempt <= int(ctx.payload["failures"]):
        raise RuntimeError(f"transient failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@job_type("test.broken", max_attempts=2, backoff_base_seconds=0.05, backoff_max_seconds=0.1)
def broken(ctx: JobContext) -> None:
    raise ValueError("this job always fails")


@job_type("test.steps", max_attempts=5, lease_seconds=2)
def steps(ctx: JobContext) -> dict[str, Any]:
    """``payload.steps`` units; each commits its effect with the cursor."""
    total = int(ctx.payload["steps"])
    start = int((ctx.cursor or {}).get("next", 0))
    for i in range(start, total):
        time.sleep(float(ctx.payload.get("delay", 0.1)))
        progress = {"done": i + 1, "total": total, "message": f"step {i + 1}/{total}"}
        with ctx.step({"next": i + 1}, **progress) as session:  # type: ignore[arg-type]
            session.add(StepEffect(job_id=ctx.job_id, step=i, worker=ctx.worker_id))
    return {"steps": total, "resumedAt": start}


@job_type("test.until_cancelled", max_attempts=1)
def until_cancelled(ctx: JobContext) -> None:
    for i in range(600):
        ctx.progress(i, None, "waiting to be cancelled")
        time.sleep(0.05)


@job_type("test.record", max_attempts=1)
def record(ctx: JobContext) -> None:
    """Leaves one effect row per run, to count how often each job ran."""
    with ctx.step({"done": True}) as session:
        session.add(StepEffect(job_id=ctx.job_id, step=0, worker=ctx.worker_id))


@job_type("test.sleep", max_attempts=1, lease_seconds=2)
def sleep(ctx: JobContext) -> dict[str, Any]:
    """Runs ``payload.seconds`` without reporting progress (a lease of 2 s)."""
    time.sleep(float(ctx.payload["seconds"]))
    return {"slept": ctx.payload["seconds"]}
