"""``kith worker``, ``kith schedule`` and ``kith jobs …``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from sqlalchemy import select

from kith.db.engine import Database
from kith.jobs.models import TERMINAL, Job, JobState
from kith.jobs.registry import PERIODIC
from kith.jobs.schemas import JobOut
from kith.settings import Settings

jobs_app = typer.Typer(help="Background jobs: list, follow, retry, cancel.", no_args_is_help=True)
console = Console()

# Set by kith.cli.main: configured settings (crypto installed).
SettingsLoader = Callable[[], Settings]
_load_settings: SettingsLoader = Settings


def set_settings_loader(loader: SettingsLoader) -> None:
    global _load_settings
    _load_settings = loader


def _database() -> tuple[Settings, Database]:
    settings = _load_settings()
    return settings, Database.from_settings(settings)


def worker(
    threads: Annotated[int, typer.Option(help="Worker threads (or processes)")] = 2,
    processes: Annotated[bool, typer.Option(help="Use processes instead of threads")] = False,
) -> None:
    """Run a standalone worker: jobs, periodic tasks and the outbox dispatcher."""
    from kith.runtime import Runtime

    settings, database = _database()
    runtime = Runtime(settings, database)
    console.print(f"kith worker: {threads} {'processes' if processes else 'threads'}")
    runtime.run_worker(workers=threads, worker_type="process" if processes else "thread")


def schedule() -> None:
    """List the periodic tasks and when they run."""
    from kith.task_registry import import_all_tasks

    import_all_tasks()
    table = Table("task", "cron", "what it does")
    for spec in sorted(PERIODIC.values(), key=lambda p: p.name):
        table.add_row(spec.name, spec.cron, spec.description)
    console.print(table)


@jobs_app.command("list")
def list_jobs(
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state")] = None,
    limit: Annotated[int, typer.Option(help="How many")] = 20,
) -> None:
    """The most recent jobs of every organization."""
    _, database = _database()
    with database.transaction() as session:
        stmt = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if state:
            stmt = stmt.where(Job.state == state)
        jobs = session.execute(stmt).scalars().all()
    wide = console.width >= 120  # narrow terminals get the essentials only
    columns = [
        Column("id", no_wrap=True, min_width=36),  # ids must stay copyable
        Column("type", no_wrap=True),
        Column("state", no_wrap=True),
        Column("progress", no_wrap=True),
    ]
    if wide:
        columns += [
            Column("tries", no_wrap=True),
            Column("created", no_wrap=True),
            Column("error", overflow="ellipsis"),
        ]
    table = Table(*columns)
    for job in jobs:
        total = f"/{job.progress_total}" if job.progress_total else ""
        row = [str(job.id), job.type, job.state.value, f"{job.progress_done}{total}"]
        if wide:
            row += [
                f"{job.attempts}/{job.max_attempts}",
                job.created_at.isoformat(timespec="seconds"),
                (job.error or "")[:80],
            ]
        table.add_row(*row)
    console.print(table)


def _load(database: Database, job_id: uuid.UUID) -> Job:
    with database.transaction() as session:
        job = session.execute(select(Job).where(Job.id == job_id)).scalar_one_or_none()
        if job is None:
            console.print(f"[red]no job {job_id}[/red]")
            raise typer.Exit(1)
        return job


@jobs_app.command("show")
def show(job_id: uuid.UUID) -> None:
    """A job's full record as JSON."""
    _, database = _database()
    console.print_json(JobOut.of(_load(database, job_id)).model_dump_json(by_alias=True))


@jobs_app.command("follow")
def follow(
    job_id: uuid.UUID,
    interval: Annotated[float, typer.Option(help="Seconds between polls")] = 0.5,
) -> None:
    """Follow a job with a progress bar until it finishes."""
    _, database = _database()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[message]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        job = _load(database, job_id)
        bar = progress.add_task(job.type, total=job.progress_total, message="")
        while True:
            job = _load(database, job_id)
            progress.update(
                bar,
                completed=job.progress_done,
                total=job.progress_total,
                message=job.progress_message or job.state.value,
            )
            if job.state in TERMINAL:
                break
            time.sleep(interval)
    colour = "green" if job.state is JobState.SUCCEEDED else "red"
    console.print(f"[{colour}]{job.state.value}[/{colour}] {job.error or ''}")
    if job.state is not JobState.SUCCEEDED:
        raise typer.Exit(1)


@jobs_app.command("retry")
def retry(job_id: uuid.UUID) -> None:
    """Re-queue a failed (dead-letter) or cancelled job."""
    from kith.jobs import service

    _change(job_id, service.retry)


@jobs_app.command("cancel")
def cancel(job_id: uuid.UUID) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    from kith.jobs import service

    _change(job_id, service.cancel)


def _change(job_id: uuid.UUID, action: Callable[..., Job]) -> None:
    from kith.auth.principal import Principal
    from kith.errors import DomainError
    from kith.jobs.queue import JobQueue
    from kith.task_registry import import_all_tasks

    settings, database = _database()
    import_all_tasks()
    JobQueue(settings, database).install()  # so a retry wakes a worker
    job = _load(database, job_id)
    try:
        with database.transaction(write=True) as session:
            principal = Principal.system(job.organization_id)
            changed = action(session, principal, job_id)
            state = changed.state
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{job_id}: {state.value}")
