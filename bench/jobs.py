"""Jobs, events and webhooks: ``python -m bench.jobs``.

    .venv/bin/python -m bench.jobs                                  # SQLite + SqliteHuey
    .venv/bin/python -m bench.jobs --redis redis://127.0.0.1:6379/0 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
        # SQLite + SqliteHuey, SQLite + Redis and PostgreSQL + Redis (throwaway database)
    .venv/bin/python -m bench.jobs --jobs 2000 --seconds 5           # smoke run
    .venv/bin/python -m bench.jobs --profile /tmp/kith-jobs-profile  # cProfile the workers

Two measurements per backend, each against a throwaway Kith (temporary data dir,
``kith migrate``, ``kith create-admin``) and real ``kith worker`` subprocesses:

1. Job throughput: ``--workers`` (2) ``kith worker --threads 2`` processes; this
   process enqueues ``--jobs`` trivial ``bench.noop`` jobs (bench/jobs_tasks.py) through
   ``kith.jobs.service.enqueue`` in transactions of ``--batch`` with a ``JobQueue``
   installed (each commit wakes Huey), and polls the database every 100 ms until every
   job is SUCCEEDED: jobs/s end to end, and per-job latency (finished_at - created_at).
   "Huey alone" runs a trivial Huey task on the same storage with the same consumer
   settings, for the margin ARCHITECTURE.md §5 speaks of.
2. Outbox → webhook latency: a ``contact.created`` webhook subscription pointing at an
   HTTP receiver in this process, one worker (dispatcher + webhook sender), and
   ``contact.created`` events published at ``--events-per-second`` for ``--seconds``,
   each in its own committed transaction (``kith.events.outbox.publish``): latency from
   commit to the receiver, with every signature checked by ``kith.webhooks.verify``.

Runs with ``--jobs`` ≥ 5,000 and ``--seconds`` ≥ 10 update the "Jobs and webhooks"
section of bench/RESULTS.md (one block per measurement and backend).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench import jobs_tasks
from bench.harness import (
    ADMIN_EMAIL,
    ORGANIZATION,
    REPO_ROOT,
    Backend,
    Machine,
    _cpu_seconds,
    _kith_command,
    _run,
    _stop,
    code_version,
    free_port,
    machine_busy_seconds,
    processes_cpu_seconds,
    throwaway_postgres,
)
from bench.load import percentile
from bench.report import RESULTS_PATH, update_results
from kith.db.engine import Database
from kith.settings import Settings

# Wide enough for the tables when the output goes to a file.
console = Console(width=None if sys.stdout.isatty() else 200)

HEADING = "Jobs and webhooks"
INTRO = """\
What background work costs end to end, measured by `bench/jobs.py` against real
`kith worker` processes (`python -m bench.jobs --help`). **Job throughput**: one process
enqueues trivial `bench.noop` jobs through `kith.jobs.service.enqueue` in transactions of
100 (a `JobQueue` installed, so each commit sends one Huey wake-up per 16 jobs) while
two `kith worker --threads 2` processes claim, run and finish them; the clock runs from the
first enqueue until the database shows every job SUCCEEDED (polled every 100 ms), and the
latency of a job is its `finished_at - created_at` (it includes waiting for its batch to
commit and for the queue to drain). "Huey alone" is a trivial Huey task on the same
storage and consumer settings, without job rows. **Outbox → webhook**: `contact.created`
events published at a fixed rate, each in its own transaction, from another process than
the worker (so the dispatcher finds them by polling every `KITH_OUTBOX_POLL_SECONDS`,
not by an in-process wake-up), delivered by one `kith worker` to an HTTP receiver on
127.0.0.1 that answers 200 at once; latency is commit → request received, and every
signature is verified. CPU columns are CPU time per job of the workers, of the
PostgreSQL backends serving the throwaway database and of Redis, and of the enqueuing
process; "CPU ceiling" is the rate that CPU cost allows on this machine's cores with
nothing else running (the machine is shared: other benchmarks' load slows the measured
rate, much less the CPU per job). Targets (the jobs, events and
webhooks issue; ARCHITECTURE.md §5): ≥1,000 trivial jobs/s end to end with Redis and 2
workers; outbox → webhook p95 ≤1 s after commit under 100 events/s."""

JOBS_TARGET = 1000.0  # jobs/s, Redis, 2 workers
WEBHOOK_TARGET_MS = 1000.0  # p95 after commit, at 100 events/s
SMOKE_JOBS = 5000
SMOKE_SECONDS = 10.0
POLL_SECONDS = 0.1
STALL_SECONDS = 120.0  # > the reaper's minute + OVERDUE_SECONDS: lost wake-ups recover
DRAIN_SECONDS = 30.0


def _hide_password(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _pct_ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- a throwaway Kith ---------------------------------------------------------------------


@dataclass
class Install:
    """A migrated Kith with one organization (and its admin), without a server."""

    backend: Backend
    data_dir: Path
    env: dict[str, str]
    settings: Settings
    database: Database
    organization_id: uuid.UUID
    queue_name: str
    detail: str

    @property
    def database_name(self) -> str | None:
        """The PostgreSQL database's name (None for SQLite)."""
        url = self.database.engine.url
        return url.database if url.get_backend_name() == "postgresql" else None


def _versions(backend: Backend, database: Database) -> tuple[str, str | None]:
    with database.engine.connect() as connection:
        if database.dialect == "postgresql":
            version = connection.exec_driver_sql("SHOW server_version").scalar_one()
            db = f"PostgreSQL {str(version).split()[0]} (throwaway database, default settings)"
        else:
            version = connection.exec_driver_sql("SELECT sqlite_version()").scalar_one()
            db = f"SQLite {version} (WAL, synchronous=NORMAL, file in a temporary data dir)"
    redis_version = None
    if backend.redis_url:
        import redis

        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(backend.redis_url, socket_timeout=2)
            try:
                redis_version = str(client.info("server").get("redis_version", "?"))
            finally:
                client.close()
    return db, redis_version


def _forget_queue(redis_url: str | None, queue_name: str) -> None:
    """Delete this run's Huey keys (and only them)."""
    if not redis_url:
        return
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"huey.*{queue_name}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError as exc:
        print(f"warning: could not delete the Huey keys of {queue_name}: {exc}", file=sys.stderr)
    finally:
        client.close()


@contextlib.contextmanager
def kith_install(backend: Backend) -> Iterator[Install]:
    """Data dir, database, ``kith migrate`` and ``kith create-admin``, the settings the
    workers will read (KITH_* environment), and this process configured alike."""
    from kith.app import configure_crypto
    from kith.auth.models import Organization

    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kith-bench-")))
        # Huey's Redis storage keeps only [A-Za-z0-9_] of the name.
        queue_name = f"kith_bench_{secrets.token_hex(4)}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
        env.update(
            {
                "KITH_ENV": "development",
                "KITH_DATA_DIR": str(data_dir),
                "KITH_LOG_LEVEL": "WARNING",
                "KITH_QUEUE_NAME": queue_name,
                "KITH_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
            }
        )
        if backend.postgres_url:
            env["KITH_DATABASE_URL"] = stack.enter_context(throwaway_postgres(backend.postgres_url))
        if backend.redis_url:
            env["KITH_REDIS_URL"] = backend.redis_url
            stack.callback(_forget_queue, backend.redis_url, queue_name)
        _run(_kith_command("migrate"), env, data_dir)
        _run(
            _kith_command(
                "create-admin",
                "--email",
                ADMIN_EMAIL,
                "--password",
                "Bench-" + secrets.token_urlsafe(18),
                "--organization",
                ORGANIZATION,
                "--name",
                "Bench Admin",
            ),
            env,
            data_dir,
        )
        settings = Settings(
            env="development",
            data_dir=data_dir,
            database_url=env.get("KITH_DATABASE_URL", ""),
            redis_url=backend.redis_url,
            queue_name=queue_name,
            webhook_allowed_hosts=["127.0.0.1"],
            log_level="WARNING",
        )
        configure_crypto(settings)  # the keys create-admin left in the data dir
        database = Database.from_settings(settings)
        stack.callback(database.dispose)
        with database.transaction() as session:
            organization_id = session.execute(select(Organization.id)).scalar_one()
        db_detail, redis_version = _versions(backend, database)
        queue = f"Huey on Redis {redis_version}" if backend.redis_url else "SqliteHuey (queue.db)"
        yield Install(
            backend=backend,
            data_dir=data_dir,
            env=env,
            settings=settings,
            database=database,
            organization_id=organization_id,
            queue_name=queue_name,
            detail=f"{db_detail}; {queue} in the data dir's queue `{queue_name}`"
            if not backend.redis_url
            else f"{db_detail}; {queue}, queue `{queue_name}`",
        )


# -- worker processes -----------------------------------------------------------------------


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]
    profile_dir: Path | None = None
    label: str = ""

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += _cpu_seconds(process.pid)
        return total

    def check_alive(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"worker {process.pid} exited ({process.returncode}):\n{tail}")

    def log_problems(self, limit: int = 5) -> list[str]:
        """Lines of the workers' output that look like errors, counted."""
        counts: Counter[str] = Counter()
        for log in self.logs:
            with contextlib.suppress(OSError):
                for line in log.read_text(errors="replace").splitlines():
                    lowered = line.lower()
                    if any(w in lowered for w in ("error", "traceback", "exception", "warning")):
                        counts[line.strip()[:200]] += 1
        return [f"{n}x {line}" for line, n in counts.most_common(limit)]


@contextlib.contextmanager
def run_workers(
    install: Install,
    count: int,
    threads: int,
    *,
    code: str = jobs_tasks.WORKER_CODE,
    args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    profile_dir: Path | None = None,
    label: str = "workers",
) -> Iterator[Workers]:
    """``count`` processes running ``code`` (by default ``kith worker --threads N`` with
    bench.jobs_tasks imported first); stopped (SIGTERM, or SIGINT when profiling so the
    profiles are written) on exit."""
    env = {**install.env, **(extra_env or {})}
    argv = args if args is not None else ["--threads", str(threads)]
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        env["BENCH_PROFILE_OUT"] = str(profile_dir / label)
        code = f"import bench.jobs_tasks as t; t.profile_threads(); {code}"
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for i in range(count):
            log = install.data_dir / f"{label}-{i}.log"
            with log.open("wb") as handle:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", code, *argv],
                        cwd=install.data_dir,
                        env=env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    )
                )
            logs.append(log)
        yield Workers(processes, logs, profile_dir, label)
    finally:
        for process in processes:
            if profile_dir is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)  # graceful: threads end, profiles dumped
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=60)
            _stop(process)


# -- 1. job throughput ------------------------------------------------------------------------


@dataclass
class JobsResult:
    label: str
    jobs: int
    completed: int
    enqueue_seconds: float
    total_seconds: float  # first enqueue → all SUCCEEDED (polled)
    done_at_enqueue_end: int
    latencies: list[float]  # seconds per job (finished_at - created_at)
    states: dict[str, int]
    worker_cpu: float
    db_cpu: float
    enqueuer_cpu: float
    other_cpu: float  # CPU of everything else on the machine during the run
    workers_seen: int
    workers: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.completed / self.total_seconds if self.total_seconds else 0.0

    @property
    def enqueue_rate(self) -> float:
        return self.jobs / self.enqueue_seconds if self.enqueue_seconds else 0.0

    def per_job_ms(self, cpu: float) -> float:
        return cpu / self.completed * 1000 if self.completed else float("nan")

    @property
    def cpu_ceiling(self) -> float:
        """Jobs/s if every core of the machine did nothing but this (workers, database,
        Redis and the enqueuer): what the CPU cost per job allows, whatever the load."""
        cpu = self.worker_cpu + self.db_cpu + self.enqueuer_cpu
        return Machine.detect().cores * self.completed / cpu if cpu else float("nan")


def _succeeded(database: Database, job_type: str | None = None) -> int:
    from kith.jobs.models import Job, JobState

    with database.transaction() as session:
        stmt = select(func.count()).select_from(Job).where(Job.state == JobState.SUCCEEDED)
        if job_type is not None:
            stmt = stmt.where(Job.type == job_type)
        return int(session.execute(stmt).scalar_one())


def _enqueue(install: Install, job_type: str, count: int, batch: int) -> None:
    from kith.auth.principal import Principal
    from kith.jobs.service import enqueue

    principal = Principal.system(install.organization_id)
    for start in range(0, count, batch):
        with install.database.transaction() as session:
            for _ in range(min(batch, count - start)):
                enqueue(session, principal, job_type)


def _warm_up(install: Install, workers: Workers, per_round: int) -> int:
    """Warm-up jobs until every worker process has finished some (so all are running,
    connected and imported); returns how many worker processes were seen."""
    from kith.jobs.models import Job

    wanted = {str(pid) for pid in workers.pids()}
    seen: set[str] = set()
    enqueued = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and seen != wanted:
        workers.check_alive()
        _enqueue(install, jobs_tasks.WARMUP, per_round, per_round)
        enqueued += per_round
        round_deadline = time.monotonic() + 20
        while _succeeded(install.database, jobs_tasks.WARMUP) < enqueued:
            if time.monotonic() > round_deadline:
                break
            time.sleep(POLL_SECONDS)
        with install.database.transaction() as session:
            owners = session.execute(
                select(Job.worker_id).where(Job.type == jobs_tasks.WARMUP).distinct()
            ).scalars()
            seen = {owner.split(":")[1] for owner in owners if owner}
    return len(seen & wanted)


def _job_stats(install: Install) -> tuple[list[float], dict[str, int]]:
    from kith.jobs.models import Job

    with install.database.transaction() as session:
        states = dict(
            session.execute(
                select(Job.state, func.count())
                .where(Job.type == jobs_tasks.NOOP)
                .group_by(Job.state)
            ).all()
        )
        rows = session.execute(
            select(Job.created_at, Job.finished_at).where(
                Job.type == jobs_tasks.NOOP, Job.finished_at.is_not(None)
            )
        ).all()
    latencies = sorted(
        (_aware(finished) - _aware(created)).total_seconds() for created, finished in rows
    )
    return latencies, {str(getattr(k, "value", k)): int(v) for k, v in states.items()}


def _server_cpu(database_name: str | None) -> dict[int, float]:
    """CPU seconds by pid of the Redis server and of the PostgreSQL backends connected to
    ``database_name`` (not other databases' backends: other benchmarks may share the
    server; nor PostgreSQL's shared background writers)."""
    found = {}
    for pid, cpu in processes_cpu_seconds().items():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "redis" in command or (database_name and f" {database_name} " in command):
            found[pid] = cpu
    return found


class Usage:
    """CPU used by the workers, the database/Redis servers, this process and the rest
    of the machine between ``start`` and ``stop``."""

    def __init__(self, workers: Workers, database_name: str | None) -> None:
        self.workers = workers
        self.database_name = database_name
        self.busy = machine_busy_seconds()
        self.servers = _server_cpu(database_name)
        self.worker = workers.cpu_seconds()
        self.own = time.process_time()
        self.started = time.perf_counter()
        self.worker_cpu = self.db_cpu = self.own_cpu = self.other_cpu = self.elapsed = 0.0

    def stop(self) -> Usage:
        self.worker_cpu = self.workers.cpu_seconds() - self.worker
        now = _server_cpu(self.database_name)
        self.db_cpu = sum(cpu - self.servers.get(pid, 0.0) for pid, cpu in now.items())
        self.own_cpu = time.process_time() - self.own
        self.elapsed = time.perf_counter() - self.started
        busy = machine_busy_seconds() - self.busy
        self.other_cpu = max(0.0, busy - self.worker_cpu - self.db_cpu - self.own_cpu)
        return self


def measure_jobs(
    install: Install,
    *,
    jobs: int,
    batch: int,
    workers: int,
    threads: int,
    profile_dir: Path | None,
) -> JobsResult:
    from kith.jobs.queue import JobQueue

    queue = JobQueue(install.settings, install.database)
    queue.install()
    label = f"jobs-{install.backend.slug}"
    try:
        with run_workers(
            install, workers, threads, profile_dir=profile_dir, label=label
        ) as running:
            seen = _warm_up(install, running, per_round=20 * workers * threads)
            if seen < workers:
                console.print(f"[yellow]only {seen} of {workers} workers ran warm-up jobs[/yellow]")
            usage = Usage(running, install.database_name)
            profiler = cProfile.Profile(time.thread_time) if profile_dir is not None else None
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            _enqueue(install, jobs_tasks.NOOP, jobs, batch)
            if profiler is not None:
                profiler.disable()
            enqueued = time.perf_counter()
            done_at_enqueue_end = _succeeded(install.database, jobs_tasks.NOOP)
            done, last_change, last_done = done_at_enqueue_end, time.perf_counter(), -1
            while done < jobs:
                now = time.perf_counter()
                if done != last_done:
                    last_done, last_change = done, now
                elif now - last_change > STALL_SECONDS:
                    break
                running.check_alive()
                time.sleep(POLL_SECONDS)
                done = _succeeded(install.database, jobs_tasks.NOOP)
            finished = time.perf_counter()
            usage.stop()
            if profiler is not None and profile_dir is not None:
                _write_profile(profiler, profile_dir / f"{label}-enqueuer")
            problems = running.log_problems()
    finally:
        queue.uninstall()
    latencies, states = _job_stats(install)
    note = "; ".join(problems[:3])
    return JobsResult(
        label="Kith jobs (enqueue → SUCCEEDED)",
        jobs=jobs,
        completed=done,
        enqueue_seconds=enqueued - started,
        total_seconds=finished - started,
        done_at_enqueue_end=done_at_enqueue_end,
        latencies=latencies,
        states=states,
        worker_cpu=usage.worker_cpu,
        db_cpu=usage.db_cpu,
        enqueuer_cpu=usage.own_cpu,
        other_cpu=usage.other_cpu,
        workers_seen=seen,
        workers=workers,
        note=note,
    )


def _baseline_done(folder: Path) -> int:
    total = 0
    for path in folder.glob("done-*"):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def measure_baseline(install: Install, *, jobs: int, workers: int, threads: int) -> JobsResult:
    """The same number of trivial tasks through a plain Huey on the same storage."""
    name = f"{install.queue_name}_huey"
    done_dir = install.data_dir / "baseline"
    done_dir.mkdir()
    sqlite_path = str(install.data_dir / "baseline-queue.db")
    extra = {
        "BENCH_HUEY_NAME": name,
        "BENCH_HUEY_REDIS": install.backend.redis_url or "",
        "BENCH_HUEY_SQLITE": "" if install.backend.redis_url else sqlite_path,
        "BENCH_HUEY_DONE_DIR": str(done_dir),
        "BENCH_HUEY_THREADS": str(threads),
    }
    huey = jobs_tasks.baseline_huey(name, install.backend.redis_url, sqlite_path)
    task = jobs_tasks.register_baseline(huey, str(done_dir))
    try:
        with run_workers(
            install,
            workers,
            threads,
            code=jobs_tasks.BASELINE_CODE,
            args=[],
            extra_env=extra,
            label="baseline",
        ) as running:
            warm = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                running.check_alive()
                for _ in range(50):
                    task()
                warm += 50
                time.sleep(0.2)
                if (
                    len(list(done_dir.glob("done-*"))) >= workers
                    and _baseline_done(done_dir) >= warm
                ):
                    break
            seen = len(list(done_dir.glob("done-*")))
            while _baseline_done(done_dir) < warm and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
            warm = _baseline_done(done_dir)
            usage = Usage(running, install.database_name)
            started = time.perf_counter()
            for _ in range(jobs):
                task()
            enqueued = time.perf_counter()
            done_at_enqueue_end = _baseline_done(done_dir) - warm
            done, last_change, last_done = done_at_enqueue_end, time.perf_counter(), -1
            while done < jobs:
                now = time.perf_counter()
                if done != last_done:
                    last_done, last_change = done, now
                elif now - last_change > 30:
                    break
                time.sleep(POLL_SECONDS)
                done = _baseline_done(done_dir) - warm
            finished = time.perf_counter()
            usage.stop()
    finally:
        if install.backend.redis_url is None:
            with contextlib.suppress(Exception):
                huey.storage.close()
    return JobsResult(
        label="Huey alone (same storage and consumers, no job rows)",
        jobs=jobs,
        completed=done,
        enqueue_seconds=enqueued - started,
        total_seconds=finished - started,
        done_at_enqueue_end=done_at_enqueue_end,
        latencies=[],
        states={"done": done},
        worker_cpu=usage.worker_cpu,
        db_cpu=usage.db_cpu,
        enqueuer_cpu=usage.own_cpu,
        other_cpu=usage.other_cpu,
        workers_seen=seen,
        workers=workers,
    )


# -- 2. outbox → webhook latency ----------------------------------------------------------------


@dataclass
class Arrival:
    at: float  # perf_counter in this process
    wall: float  # time.time()
    event_id: str
    signature: str | None
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers 200 at once."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at, wall = time.perf_counter(), time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                arrival = Arrival(
                    at,
                    wall,
                    self.headers.get("X-Kith-Event-Id", ""),
                    self.headers.get("X-Kith-Signature"),
                    body,
                )
                with receiver._lock:
                    receiver.arrivals.append(arrival)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="bench-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)


@dataclass
class WebhookResult:
    rate: float
    seconds: float
    published: int
    publish_seconds: float
    max_behind_ms: float  # how late the publisher got against its schedule
    latencies: list[float]  # seconds, commit → received, first arrival per event
    to_dispatch: list[float]  # commit → outbox.delivered_at
    to_receiver: list[float]  # outbox.delivered_at → received
    lost: int
    duplicates: int
    bad_signatures: int
    deliveries: dict[str, int]
    undispatched: int
    worker_cpu: float
    db_cpu: float
    publisher_cpu: float
    other_cpu: float
    measured_seconds: float  # publishing and draining: the window the CPU columns cover
    problems: list[str] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        return self.published / self.publish_seconds if self.publish_seconds else 0.0


def _contact_payload(number: int) -> dict[str, Any]:
    """About the size of a real contact.created snapshot."""
    contact_id = uuid.uuid4()
    return {
        "contact": {
            "id": str(contact_id),
            "firstName": "Ada",
            "lastName": f"Bench{number}",
            "displayName": f"Ada Bench{number}",
            "emails": [{"email": f"ada.bench{number}@example.com", "primary": True}],
            "phones": [{"phone": "+14155550100", "primary": True}],
            "companyName": "Acme Logistics",
            "position": "Head of Operations",
            "status": "ACTIVE",
            "tags": ["bench", "webhooks"],
            "customFields": {},
            "version": 1,
        }
    }


def _publish(install: Install, number: int) -> tuple[uuid.UUID, float, float]:
    """One contact.created in its own transaction; (event id, commit perf, commit wall)."""
    from kith.auth.principal import Principal
    from kith.events.outbox import publish

    payload = _contact_payload(number)
    with install.database.transaction() as session:
        event_id = publish(
            session,
            Principal.system(install.organization_id),
            "contact.created",
            aggregate_type="contact",
            aggregate_id=payload["contact"]["id"],
            payload=payload,
        )
    return event_id, time.perf_counter(), time.time()


def measure_webhooks(
    install: Install,
    *,
    rate: float,
    seconds: float,
    threads: int,
    profile_dir: Path | None,
) -> WebhookResult:
    from kith.auth.principal import Principal
    from kith.events.models import OutboxEvent
    from kith.webhooks.models import WebhookDelivery
    from kith.webhooks.schemas import WebhookIn
    from kith.webhooks.service import create_webhook
    from kith.webhooks.verify import verify_signature

    with Receiver() as receiver:
        with install.database.transaction(write=True) as session:
            _, secret = create_webhook(
                session,
                Principal.system(install.organization_id),
                install.settings,
                WebhookIn(url=receiver.url, event_types=["contact.created"]),
            )
        label = f"webhooks-{install.backend.slug}"
        with run_workers(install, 1, threads, profile_dir=profile_dir, label=label) as running:
            # Warm-up: until an event makes it through (worker up, connections open).
            deadline = time.monotonic() + 90
            warm_ids: set[str] = set()
            while time.monotonic() < deadline:
                running.check_alive()
                warm_ids.add(str(_publish(install, -1)[0]))
                time.sleep(0.5)
                if any(a.event_id in warm_ids for a in receiver.snapshot()):
                    break
            else:
                raise RuntimeError("no webhook arrived within 90 s of starting the worker")
            time.sleep(2.0)
            commits: dict[str, tuple[float, float]] = {}
            total = max(1, round(rate * seconds))
            usage = Usage(running, install.database_name)
            started = time.perf_counter()
            behind = 0.0
            for number in range(total):
                due = started + number / rate
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                else:
                    behind = max(behind, now - due)
                event_id, at, wall = _publish(install, number)
                commits[str(event_id)] = (at, wall)
            published_at = time.perf_counter()
            # Drain: until every event arrived, or nothing new came for DRAIN_SECONDS.
            last_count, last_change = -1, time.perf_counter()
            while True:
                arrived = {a.event_id for a in receiver.snapshot()} & commits.keys()
                now = time.perf_counter()
                if len(arrived) == len(commits):
                    break
                if len(arrived) != last_count:
                    last_count, last_change = len(arrived), now
                elif now - last_change > DRAIN_SECONDS:
                    break
                time.sleep(POLL_SECONDS)
            usage.stop()
            problems = running.log_problems()
        arrivals = [a for a in receiver.snapshot() if a.event_id not in warm_ids]

    with install.database.transaction() as session:
        dispatched = {
            str(event_id): _aware(at).timestamp()
            for event_id, at in session.execute(
                select(OutboxEvent.id, OutboxEvent.delivered_at).where(
                    OutboxEvent.delivered_at.is_not(None)
                )
            ).all()
        }
        undispatched = int(
            session.execute(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.delivered_at.is_(None))
            ).scalar_one()
        )
        deliveries = {
            str(getattr(state, "value", state)): int(n)
            for state, n in session.execute(
                select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            ).all()
        }

    first: dict[str, Arrival] = {}
    duplicates = bad = 0
    for arrival in sorted(arrivals, key=lambda a: a.at):
        if not verify_signature(secret, arrival.signature, arrival.body, now=arrival.wall):
            bad += 1
        elif orjson.loads(arrival.body).get("id") != arrival.event_id:
            bad += 1  # a valid signature over another event's body
        if arrival.event_id in first:
            duplicates += 1
        else:
            first[arrival.event_id] = arrival
    latencies, to_dispatch, to_receiver = [], [], []
    for event_id, (at, wall) in commits.items():
        arrival = first.get(event_id)
        if arrival is None:
            continue
        latencies.append(arrival.at - at)
        if event_id in dispatched:
            to_dispatch.append(dispatched[event_id] - wall)
            to_receiver.append(arrival.wall - dispatched[event_id])
    return WebhookResult(
        rate=rate,
        seconds=seconds,
        published=len(commits),
        publish_seconds=published_at - started,
        max_behind_ms=behind * 1000,
        latencies=sorted(latencies),
        to_dispatch=sorted(to_dispatch),
        to_receiver=sorted(to_receiver),
        lost=len(commits) - len(latencies),
        duplicates=duplicates,
        bad_signatures=bad,
        deliveries=deliveries,
        undispatched=undispatched,
        worker_cpu=usage.worker_cpu,
        db_cpu=usage.db_cpu,
        publisher_cpu=usage.own_cpu,
        other_cpu=usage.other_cpu,
        measured_seconds=usage.elapsed,
        problems=problems,
    )


# -- profiles ---------------------------------------------------------------------------------


def _write_profile(profiler: cProfile.Profile, stem: Path) -> None:
    profiler.dump_stats(f"{stem}.prof")
    Path(f"{stem}.txt").write_text(profile_summary(pstats.Stats(profiler)))


def profile_summary(stats: pstats.Stats, limit: int = 45) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def summarize_profiles(folder: Path) -> list[Path]:
    """One text summary per group of worker profiles (``<label>-*.prof``)."""
    written = []
    groups: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.prof")):
        if "-worker-" in path.name:
            groups.setdefault(path.name.split("-worker-")[0], []).append(path)
    for label, paths in groups.items():
        stats = pstats.Stats(str(paths[0]))
        for path in paths[1:]:
            stats.add(str(path))
        target = folder / f"{label}-workers.txt"
        target.write_text(profile_summary(stats))
        written.append(target)
    return written


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float, pattern: str) -> str:
    return "-" if value != value else pattern.format(value)


def _software() -> str:
    import huey
    import sqlalchemy

    machine = Machine.detect()
    return (
        f"{machine.python}; {code_version()}; Huey {huey.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


def _header(title: str, install_detail: str, command: str, lines: list[str]) -> list[str]:
    machine = Machine.detect()
    return [
        f"### {title}",
        "",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {machine.describe()}",
        f"- **Software**: {_software()}",
        f"- **Backend**: {install_detail}",
        *lines,
        f"- **Command**: `{command}`",
        "",
    ]


JOB_COLUMNS = (
    "run",
    "jobs",
    "enqueue/s",
    "done when enqueued",
    "end to end s",
    "jobs/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "worker CPU ms/job",
    "DB+Redis CPU ms/job",
    "enqueuer CPU ms/job",
    "CPU ceiling jobs/s",
)


def job_row(result: JobsResult) -> list[str]:
    lat = result.latencies
    return [
        result.label,
        f"{result.completed:,}/{result.jobs:,}",
        f"{result.enqueue_rate:,.0f}",
        f"{result.done_at_enqueue_end / result.jobs:.0%}",
        f"{result.total_seconds:.1f}",
        f"{result.rate:,.0f}",
        _fmt(_pct_ms(lat, 50), "{:,.0f}"),
        _fmt(_pct_ms(lat, 95), "{:,.0f}"),
        _fmt(_pct_ms(lat, 99), "{:,.0f}"),
        _fmt(lat[-1] * 1000 if lat else float("nan"), "{:,.0f}"),
        f"{result.per_job_ms(result.worker_cpu):.2f}",
        f"{result.per_job_ms(result.db_cpu):.2f}",
        f"{result.per_job_ms(result.enqueuer_cpu):.2f}",
        f"{result.cpu_ceiling:,.0f}",
    ]


def jobs_markdown(
    install: Install,
    results: list[JobsResult],
    *,
    workers: int,
    threads: int,
    batch: int,
    command: str,
) -> str:
    kith = results[0]
    met = kith.rate >= JOBS_TARGET and kith.completed == kith.jobs
    other = sum(r.other_cpu for r in results) / sum(r.total_seconds for r in results)
    lines = _header(
        f"Job throughput, {install.backend.label}",
        install.detail,
        command,
        [
            f"- **Workers**: {workers} x `kith worker --threads {threads}` (Huey thread "
            "workers; their dispatcher and webhook loops idle), bench/jobs_tasks.py imported first",
            f"- **Dataset**: {kith.jobs:,} `bench.noop` jobs (returns None, max_attempts 1), "
            f"enqueued by one process in transactions of {batch} through "
            "`kith.jobs.service.enqueue` with a `JobQueue` installed; warm-up jobs first "
            f"(seen on {kith.workers_seen} of {workers} workers)",
            f"- **Other load**: processes other than the workers, the enqueuer and the "
            f"database/Redis servers used {other:.0%} of a core during the runs",
            f"- **Outcome**: {', '.join(f'{k} {v:,}' for k, v in sorted(kith.states.items()))}"
            + (f"; worker log: {kith.note}" if kith.note else ""),
            f"- **Target** ≥{JOBS_TARGET:,.0f} jobs/s end to end"
            + (
                f" (Redis, {workers} workers): **{'met' if met else 'missed'}** "
                f"({kith.rate:,.0f} jobs/s)"
                if install.backend.redis_url
                else ": applies to Redis; shown for comparison"
            ),
        ],
    )
    lines += [
        "| " + " | ".join(JOB_COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(JOB_COLUMNS) - 1)) + "|",
    ]
    for result in results:
        lines.append("| " + " | ".join(job_row(result)) + " |")
    return "\n".join(lines)


WEBHOOK_COLUMNS = (
    "events",
    "rate /s",
    "delivered",
    "lost",
    "duplicates",
    "bad signatures",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "worker CPU",
    "DB CPU",
)


def webhook_row(result: WebhookResult) -> list[str]:
    lat = result.latencies
    return [
        f"{result.published:,}",
        f"{result.achieved_rate:,.1f}",
        f"{len(lat):,}",
        str(result.lost),
        str(result.duplicates),
        str(result.bad_signatures),
        _fmt(_pct_ms(lat, 50), "{:,.0f}"),
        _fmt(_pct_ms(lat, 95), "{:,.0f}"),
        _fmt(_pct_ms(lat, 99), "{:,.0f}"),
        _fmt(lat[-1] * 1000 if lat else float("nan"), "{:,.0f}"),
        f"{result.worker_cpu / result.measured_seconds:.0%}",
        f"{result.db_cpu / result.measured_seconds:.0%}",
    ]


def webhooks_markdown(
    install: Install, result: WebhookResult, *, threads: int, command: str
) -> str:
    p95 = _pct_ms(result.latencies, 95)
    met = p95 <= WEBHOOK_TARGET_MS and result.lost == 0
    lines = _header(
        f"Outbox → webhook latency, {install.backend.label}",
        install.detail,
        command,
        [
            f"- **Worker**: 1 x `kith worker --threads {threads}` (dispatcher polling every "
            f"{install.settings.outbox_poll_seconds:g} s, webhook sender woken after each "
            "dispatcher round)",
            f"- **Load**: `contact.created` at {result.rate:g}/s for {result.seconds:g} s, "
            "each in its own transaction (`kith.events.outbox.publish`, system principal), "
            f"from this process; achieved {result.achieved_rate:,.1f}/s, at most "
            f"{result.max_behind_ms:,.0f} ms behind schedule; 1 subscription "
            "(`contact.created`) → receiver on 127.0.0.1 (ThreadingHTTPServer, 200 at once)",
            f"- **Outcome**: deliveries "
            f"{', '.join(f'{k} {v:,}' for k, v in sorted(result.deliveries.items()))}; "
            f"{result.undispatched} events left in the outbox"
            + (f"; worker log: {'; '.join(result.problems[:3])}" if result.problems else ""),
            f"- **Other load**: processes other than the worker, this process and the "
            f"database/Redis servers used {result.other_cpu / result.measured_seconds:.0%} "
            "of a core",
            f"- **Target** p95 ≤{WEBHOOK_TARGET_MS:,.0f} ms after commit at 100 events/s: "
            f"**{'met' if met else 'missed'}** (p95 {p95:,.0f} ms)",
        ],
    )
    lines += [
        "| " + " | ".join(WEBHOOK_COLUMNS) + " |",
        "|" + "|".join(["---:"] * len(WEBHOOK_COLUMNS)) + "|",
        "| " + " | ".join(webhook_row(result)) + " |",
        "",
        "| stage | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for stage, values in (
        ("commit → dispatched (outbox `delivered_at`)", result.to_dispatch),
        ("dispatched → received (sender claim, HTTP POST)", result.to_receiver),
        ("commit → received", result.latencies),
    ):
        cells = [_fmt(_pct_ms(values, q), "{:,.0f}") for q in (50, 95, 99, 100)]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def jobs_table(title: str, results: list[JobsResult]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(JOB_COLUMNS):
        table.add_column(column, justify="left" if i == 0 else "right")
    for result in results:
        table.add_row(*job_row(result))
    return table


def webhooks_table(title: str, result: WebhookResult) -> Table:
    table = Table(title=title)
    for column in WEBHOOK_COLUMNS:
        table.add_column(column, justify="right")
    table.add_row(*webhook_row(result))
    return table


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.jobs",
        description="Job throughput and outbox → webhook latency against real kith workers.",
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs to run (default 20,000)")
    parser.add_argument("--batch", type=int, default=100, help="jobs per enqueue transaction")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (default 2)")
    parser.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server for a throwaway database"
    )
    parser.add_argument("--redis", metavar="URL", help="Redis for the Huey queue")
    parser.add_argument("--events-per-second", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of events")
    parser.add_argument(
        "--only",
        default="jobs,baseline,webhooks",
        help="comma-separated parts: jobs, baseline, webhooks (default all)",
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated backends (sqlite, sqlite-redis, postgresql-redis, postgresql); "
        "default: every one the given URLs allow",
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"update {RESULTS_PATH.name} (default: yes, except smoke and --profile runs)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="cProfile (CPU time per thread) every worker thread and the enqueuer into DIR; "
        "the numbers are then not representative",
    )
    args = parser.parse_args(argv)
    if min(args.jobs, args.batch, args.workers, args.threads) < 1 or (
        args.events_per_second <= 0 or args.seconds <= 0
    ):
        parser.error("counts, rates and durations must be positive")
    args.only = {part.strip() for part in args.only.split(",") if part.strip()}
    if args.only - {"jobs", "baseline", "webhooks"}:
        parser.error(f"unknown part(s) {', '.join(sorted(args.only))}")
    backends = [Backend()]
    if args.redis:
        backends.append(Backend(redis_url=args.redis))
    if args.postgres:
        backends.append(Backend(postgres_url=args.postgres, redis_url=args.redis))
    if args.backends:
        wanted = {slug.strip() for slug in args.backends.split(",") if slug.strip()}
        unknown = wanted - {b.slug for b in backends}
        if unknown:
            parser.error(f"backend(s) {', '.join(sorted(unknown))} need --postgres/--redis")
        backends = [b for b in backends if b.slug in wanted]
    args.backend_list = backends
    if args.write is None:
        smoke = args.jobs < SMOKE_JOBS or args.seconds < SMOKE_SECONDS
        args.write = not smoke and args.profile is None
    return args


def _command(args: argparse.Namespace, backend: Backend, part: str) -> str:
    parts = [".venv/bin/python -m bench.jobs"]
    if part == "jobs":
        parts += [f"--jobs {args.jobs}", f"--batch {args.batch}"]
    else:
        parts += [f"--events-per-second {args.events_per_second:g}", f"--seconds {args.seconds:g}"]
    parts += [f"--workers {args.workers}", f"--threads {args.threads}"]
    if backend.postgres_url:
        parts.append(f"--postgres {_hide_password(backend.postgres_url)}")
    if args.redis:
        parts.append(f"--redis {_hide_password(args.redis)}")
    parts.append(f"--backends {backend.slug}")
    return " ".join(parts)


def run_backend(args: argparse.Namespace, backend: Backend) -> list[tuple[str, str]]:
    """Measure one backend; returns the (block id, markdown) it produced."""
    blocks: list[tuple[str, str]] = []
    want_jobs = bool(args.only & {"jobs", "baseline"})
    # Webhook latency does not involve Huey: SQLite+Redis would repeat SQLite.
    want_webhooks = "webhooks" in args.only and backend.slug != "sqlite-redis"
    if want_jobs:
        console.print(f"[bold]{backend.label}[/bold]: job throughput")
        results: list[JobsResult] = []
        with kith_install(backend) as install:
            if "jobs" in args.only:
                results.append(
                    measure_jobs(
                        install,
                        jobs=args.jobs,
                        batch=args.batch,
                        workers=args.workers,
                        threads=args.threads,
                        profile_dir=args.profile,
                    )
                )
            if "baseline" in args.only:
                console.print("  [dim]Huey alone[/dim]")
                results.append(
                    measure_baseline(
                        install, jobs=args.jobs, workers=args.workers, threads=args.threads
                    )
                )
            console.print(jobs_table(f"Job throughput, {backend.label}", results))
            if "jobs" in args.only:
                blocks.append(
                    (
                        f"jobs:{backend.slug}",
                        jobs_markdown(
                            install,
                            results,
                            workers=args.workers,
                            threads=args.threads,
                            batch=args.batch,
                            command=_command(args, backend, "jobs"),
                        ),
                    )
                )
    if want_webhooks:
        console.print(f"[bold]{backend.label}[/bold]: outbox → webhook latency")
        with kith_install(backend) as install:
            result = measure_webhooks(
                install,
                rate=args.events_per_second,
                seconds=args.seconds,
                threads=args.threads,
                profile_dir=args.profile,
            )
            console.print(webhooks_table(f"Outbox → webhook, {backend.label}", result))
            for stage, values in (
                ("commit → dispatched", result.to_dispatch),
                ("dispatched → received", result.to_receiver),
            ):
                console.print(
                    f"  {stage}: p50 {_pct_ms(values, 50):,.0f} ms, "
                    f"p95 {_pct_ms(values, 95):,.0f} ms, p99 {_pct_ms(values, 99):,.0f} ms"
                )
            blocks.append(
                (
                    f"webhooks:{backend.slug}",
                    webhooks_markdown(
                        install,
                        result,
                        threads=args.threads,
                        command=_command(args, backend, "webhooks"),
                    ),
                )
            )
    return blocks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    blocks: list[tuple[str, str]] = []
    for backend in args.backend_list:
        blocks += run_backend(args, backend)
    if args.profile is not None:
        for path in summarize_profiles(args.profile):
            console.print(f"profile summary: {path}")
    if args.write:
        for block_id, block in blocks:
            update_results(HEADING, INTRO, block_id, block)  # re-reads the file each time
        console.print(f"updated {RESULTS_PATH}")
    else:
        for _, block in blocks:
            console.print(block, markup=False, highlight=False, soft_wrap=True)
        console.print(f"[dim]{RESULTS_PATH.name} not updated (smoke or profile run)[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
