"""Job types and periodic tasks, registered by domains at import time.

@job_type("contacts.import", max_attempts=3)
def import_contacts(ctx: JobContext) -> dict | None: ...

@periodic("jobs.reap", "* * * * *")
def reap(database: Database) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from croniter import croniter

if TYPE_CHECKING:
    from kith.db.engine import Database
    from kith.jobs.context import JobContext

JobFunc = Callable[["JobContext"], "dict[str, Any] | None"]
PeriodicFunc = Callable[["Database"], object]


@dataclass(frozen=True)
class JobType:
    name: str
    func: JobFunc
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    lease_seconds: int = 60


@dataclass(frozen=True)
class Periodic:
    name: str
    cron: str
    func: PeriodicFunc
    description: str


JOB_TYPES: dict[str, JobType] = {}
PERIODIC: dict[str, Periodic] = {}


def job_type(
    name: str,
    *,
    max_attempts: int = 5,
    backoff_base_seconds: float = 2.0,
    backoff_max_seconds: float = 600.0,
    lease_seconds: int = 60,
) -> Callable[[JobFunc], JobFunc]:
    def register(func: JobFunc) -> JobFunc:
        JOB_TYPES[name] = JobType(
            name, func, max_attempts, backoff_base_seconds, backoff_max_seconds, lease_seconds
        )
        return func

    return register


def periodic(name: str, cron: str) -> Callable[[PeriodicFunc], PeriodicFunc]:
    """Run ``func(database)`` on a cron schedule (minute resolution) in the workers."""
    if not croniter.is_valid(cron):
        raise ValueError(f"invalid cron expression {cron!r} for {name}")

    def register(func: PeriodicFunc) -> PeriodicFunc:
        doc = (func.__doc__ or "").strip().splitlines()
        PERIODIC[name] = Periodic(name, cron, func, doc[0] if doc else "")
        return func

    return register
