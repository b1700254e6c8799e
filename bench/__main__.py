"""``python -m bench`` (``make bench``): the platform request-overhead benchmark.

    .venv/bin/python -m bench                      # SQLite, 32 clients, 10 s per operation
    .venv/bin/python -m bench --duration 1         # smoke run (RESULTS.md untouched)
    .venv/bin/python -m bench --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --redis redis://127.0.0.1:6379/0           # PostgreSQL (throwaway database) + Redis
    .venv/bin/python -m bench --only me,teams.list --profile /tmp/kith-profile
                                                   # py-spy per operation (py-spy not included)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from rich.console import Console

from bench import overhead
from bench.harness import Backend, kith_server
from bench.profiling import PySpy, find_py_spy
from bench.report import RESULTS_PATH, rich_table, update_results

SMOKE_SECONDS = 5.0
SMOKE_REQUESTS = 1000

console = Console()


def _hide_password(url: str) -> str:
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure Kith's platform request overhead against a real `kith serve`.",
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent clients (default 32)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds measured per operation (default 10; under 5 is a smoke run)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="measure a fixed number of requests per operation instead of a duration",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server to create (and drop) a throwaway database on",
    )
    parser.add_argument("--redis", metavar="URL", help="Redis for rate limits and throttles")
    parser.add_argument(
        "--only",
        default=",".join(overhead.OPERATION_KEYS),
        help="comma-separated operations (default all): " + ", ".join(overhead.OPERATION_KEYS),
    )
    parser.add_argument(
        "--logins", type=int, default=20, help="sequential logins to time (default 20)"
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
        help="record a py-spy profile of the server per operation into DIR (needs py-spy, "
        "which is not a Kith dependency; numbers are then not representative)",
    )
    parser.add_argument(
        "--py-spy", metavar="PATH", help="the py-spy executable (default: py-spy on PATH)"
    )
    args = parser.parse_args(argv)
    only = [key.strip() for key in args.only.split(",") if key.strip()]
    unknown = sorted(set(only) - set(overhead.OPERATION_KEYS))
    if unknown:
        parser.error(f"unknown operation(s) {', '.join(unknown)}")
    if (
        args.concurrency < 1
        or args.duration <= 0
        or (args.requests is not None and args.requests < 1)
    ):
        parser.error("--concurrency, --duration and --requests must be positive")
    args.only = only
    if args.profile is not None:
        args.py_spy = find_py_spy(args.py_spy)
        if args.py_spy is None:
            parser.error(
                "--profile needs py-spy: install it (e.g. pipx install py-spy) or pass --py-spy"
            )
    if args.write is None:
        smoke = (
            args.requests < SMOKE_REQUESTS
            if args.requests is not None
            else args.duration < SMOKE_SECONDS
        )
        args.write = not smoke and args.profile is None
    return args


def _command(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python -m bench", f"--concurrency {args.concurrency}"]
    parts.append(
        f"--requests {args.requests}"
        if args.requests is not None
        else f"--duration {args.duration:g}"
    )
    if args.postgres:
        parts.append(f"--postgres {_hide_password(args.postgres)}")
    if args.redis:
        parts.append(f"--redis {_hide_password(args.redis)}")
    if args.only != overhead.OPERATION_KEYS:
        parts.append(f"--only {','.join(args.only)}")
    return " ".join(parts)


def _backend_detail(backend: Backend) -> str:
    if backend.postgres_url:
        detail = f"PostgreSQL {_postgres_version(backend.postgres_url)} (throwaway database)"
    else:
        detail = "SQLite (WAL, file in a temporary data dir)"
    if backend.redis_url:
        return f"{detail}; Redis {_redis_version(backend.redis_url)} for the rate limiter"
    return f"{detail}; rate limiter in process memory"


def _postgres_version(url: str) -> str:
    import psycopg
    from sqlalchemy import make_url

    from kith.db.engine import normalize_url

    dsn = make_url(normalize_url(url)).set(drivername="postgresql")
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(dsn.render_as_string(hide_password=False)) as conn,
    ):
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "?"
    return "?"


def _redis_version(url: str) -> str:
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            return str(client.info("server").get("redis_version", "?"))
        finally:
            client.close()
    return "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backend = Backend(postgres_url=args.postgres, redis_url=args.redis)
    console.print(
        f"[bold]Kith platform request overhead[/bold] on {backend.label}: "
        f"{args.concurrency} clients, "
        + (f"{args.requests} requests" if args.requests else f"{args.duration:g} s")
        + " per operation"
    )

    def progress(message: str) -> None:
        console.print(f"  [dim]{message}[/dim]")

    progress("preparing a throwaway Kith (migrate, create-admin, serve)")
    with kith_server(backend) as server:
        profiler = PySpy(args.py_spy, server.process.pid, args.profile) if args.profile else None
        run = overhead.run(
            server,
            backend,
            only=args.only,
            concurrency=args.concurrency,
            duration=args.duration,
            requests=args.requests,
            login_rounds=args.logins,
            progress=progress,
            profiler=profiler,
        )
        server_errors = server.error_summary()
    for line in server_errors:
        console.print(f"[yellow]server log: {line}[/yellow]")

    http_results = [r for r in run.results if r.key != overhead.LOGIN_OPERATION]
    title = f"Platform request overhead, {backend.label}, {args.concurrency} clients"
    console.print(rich_table(title, http_results if http_results else run.results))
    for result in run.results:
        if result.key == overhead.LOGIN_OPERATION:
            console.print(overhead.login_summary(result))
        for sample in result.error_samples[:2]:
            console.print(f"[red]{result.label}: {' '.join(sample.split())[:160]}[/red]")

    if run.other_cpu_share > 0.1:
        console.print(
            f"[yellow]other processes used {run.other_cpu_share:.0%} of a core during the run: "
            "the numbers are disturbed[/yellow]"
        )
    if args.profile is not None:
        console.print(f"profiles written to {args.profile}/")
    if args.write:
        block = overhead.markdown_block(
            run,
            backend_detail=_backend_detail(backend),
            command=_command(args),
            server_errors=server_errors,
        )
        update_results(overhead.HEADING, overhead.INTRO, f"platform:{backend.slug}", block)
        console.print(f"updated {RESULTS_PATH}")
    else:
        console.print(f"[dim]{RESULTS_PATH.name} not updated (smoke or profile run)[/dim]")
    return 1 if any(r.errors for r in run.results) else 0


if __name__ == "__main__":
    sys.exit(main())
