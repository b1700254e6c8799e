"""What the jobs benchmark (``bench/jobs.py``) runs in its worker processes.

``bench.noop`` is a trivial Kith job type: the workers import this module before
``kith worker`` starts, so the job is known to them (the benchmark process imports it
too, for ``enqueue``). The "Huey alone" baseline is a plain Huey task on its own
queue, counted by appending one byte per task to a file per worker process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

from kith.jobs.context import JobContext
from kith.jobs.registry import job_type

NOOP = "bench.noop"
WARMUP = "bench.warmup"

# How the benchmark starts a Kith worker (cwd: the throwaway data dir, PYTHONPATH: the
# repository root): this module first, then the real `kith worker` command line.
WORKER_CODE = (
    "import sys, bench.jobs_tasks; from kith.cli.main import app; "
    "app(['worker', *sys.argv[1:]], prog_name='kith')"
)
BASELINE_CODE = "import bench.jobs_tasks as t; t.run_baseline_consumer()"


@job_type(NOOP, max_attempts=1)
def noop(ctx: JobContext) -> dict[str, Any] | None:
    return None


@job_type(WARMUP, max_attempts=1)
def warmup(ctx: JobContext) -> dict[str, Any] | None:
    return None


# -- the "Huey alone" baseline ---------------------------------------------------------


def baseline_huey(name: str, redis_url: str | None, sqlite_path: str | None) -> Huey:
    """The same storage Kith would use (``kith.jobs.queue.make_huey``), without Kith."""
    if redis_url:
        return RedisHuey(name=name, url=redis_url, results=False)
    assert sqlite_path is not None
    return SqliteHuey(name=name, filename=sqlite_path, results=False)


_done_fd: dict[int, int] = {}


def _count_done(folder: str) -> None:
    pid = os.getpid()
    fd = _done_fd.get(pid)
    if fd is None:
        path = Path(folder) / f"done-{pid}"
        fd = _done_fd[pid] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, b".")


def register_baseline(huey: Huey, done_dir: str) -> Any:
    """The trivial task (one byte appended to ``done_dir/done-<pid>``)."""

    def huey_noop() -> None:
        _count_done(done_dir)

    return huey.task(name="bench.huey_noop")(huey_noop)


def run_baseline_consumer() -> None:
    """A plain Huey consumer with the settings of ``JobQueue.consumer`` (from the
    BENCH_HUEY_* environment); blocks until SIGTERM/SIGINT."""
    huey = baseline_huey(
        os.environ["BENCH_HUEY_NAME"],
        os.environ.get("BENCH_HUEY_REDIS") or None,
        os.environ.get("BENCH_HUEY_SQLITE") or None,
    )
    register_baseline(huey, os.environ["BENCH_HUEY_DONE_DIR"])
    consumer = huey.create_consumer(
        workers=int(os.environ.get("BENCH_HUEY_THREADS", "2")),
        worker_type="thread",
        periodic=False,
        initial_delay=0.05,
        max_delay=1.0,
        backoff=1.5,
        check_worker_health=True,
    )
    print(f"baseline consumer {huey.name}", file=sys.stderr, flush=True)
    consumer.run()


# -- profiling (``python -m bench.jobs --profile DIR``) -------------------------------------


def profile_threads() -> None:
    """cProfile every thread this process starts from now on (but the idle lease
    heartbeats) and write them, merged, to ``$BENCH_PROFILE_OUT-worker-<pid>.prof`` at
    exit. The clock is each thread's CPU time (``time.thread_time``): waiting for the
    database, Redis or the GIL does not count, so the profile shows where CPU goes. The
    main thread of a worker only waits for signals and is not profiled."""
    import atexit
    import cProfile
    import pstats
    import threading
    import time

    out = os.environ["BENCH_PROFILE_OUT"]
    profiles: list[tuple[threading.Thread, cProfile.Profile]] = []
    lock = threading.Lock()
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        if self.name.startswith("kith-job-lease"):
            return original(self)
        profiler = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append((self, profiler))
        profiler.enable()
        try:
            return original(self)
        finally:
            profiler.disable()

    threading.Thread.run = run  # type: ignore[method-assign]

    def dump() -> None:
        with lock:
            finished = [p for thread, p in profiles if not thread.is_alive()]
        if finished:
            pstats.Stats(*finished).dump_stats(f"{out}-worker-{os.getpid()}.prof")

    atexit.register(dump)
