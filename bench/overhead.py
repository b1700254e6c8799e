"""Platform request overhead: what a request costs before any CRM feature does work.

GET /health (the floor: uvicorn + middleware), GET /users/me (token check, principal and
member lookups), GET /teams?limit=20 (the list envelope), POST /teams (a write, also with
an Idempotency-Key, and an idempotent replay), and the sign-in itself (argon2id at the
default cost), measured sequentially."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

import httpx

from bench.harness import (
    Backend,
    KithServer,
    Machine,
    code_version,
    cpu_used_since,
    machine_busy_seconds,
    processes_cpu_seconds,
)
from bench.load import ClientPool, Operation, Result, percentile, run_operation
from bench.profiling import PySpy

HEADING = "Platform request overhead"
INTRO = """\
What one request costs in the platform alone (uvicorn, the middleware stack, token
authentication, the session and a few queries, JSON), before any CRM feature: `GET /health`
is the floor, `GET /api/v1/users/me` adds authentication and database lookups,
`GET /api/v1/teams?limit=20` is the list envelope (count + page of 20), `POST /api/v1/teams`
a write (with its audit record), then the same with a fresh `Idempotency-Key` per request,
and replaying one key. Latency is measured by the client in a closed loop (each client
sends its next request when the previous one has answered), so once the server is
saturated it is mostly queueing. "server CPU ms/req" is the server process's CPU time
divided by the requests it answered: 1000 divided by it is the most one worker can serve
when its core is the limit. "client CPU" shows when the load generator (one Python process
on the same 2-core machine) was the limit itself. "Other load" is CPU used by unrelated
processes during the run (the machine is shared): above ~10% of a core the numbers are
disturbed. Sign-in is measured sequentially (one client, one login at a time)."""

API = "/api/v1"
LOGIN_OPERATION = "login"
SEEDED_TEAMS = 100


def _json(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _replay_body(key: str) -> bytes:
    return _json({"name": f"Team replayed {key[:8]}", "description": "benchmark"})


def operations(replay_key: str) -> list[Operation]:
    names = count(1)
    run = uuid.uuid4().hex[:8]

    def new_team() -> tuple[dict[str, str], bytes]:
        return {}, _json({"name": f"Team {run}-{next(names)}", "description": "benchmark"})

    def new_team_idempotent() -> tuple[dict[str, str], bytes]:
        _, body = new_team()
        return {"idempotency-key": uuid.uuid4().hex}, body

    replay_body = _replay_body(replay_key)

    return [
        Operation("health", "GET /health", "GET", "/health"),
        Operation("me", "GET /api/v1/users/me", "GET", f"{API}/users/me"),
        Operation("teams.list", "GET /api/v1/teams?limit=20", "GET", f"{API}/teams?limit=20"),
        Operation("teams.create", "POST /api/v1/teams", "POST", f"{API}/teams", 201, new_team),
        Operation(
            "teams.create.idem",
            "POST /api/v1/teams + Idempotency-Key",
            "POST",
            f"{API}/teams",
            201,
            new_team_idempotent,
        ),
        Operation(
            "teams.create.replay",
            "POST /api/v1/teams, replayed key",
            "POST",
            f"{API}/teams",
            201,
            lambda: ({"idempotency-key": replay_key}, replay_body),
        ),
    ]


OPERATION_KEYS = [op.key for op in operations("-")] + [LOGIN_OPERATION]


@dataclass
class Run:
    backend: Backend
    machine: Machine
    started: datetime
    concurrency: int
    duration: float
    requests: int | None
    results: list[Result]
    users: int
    teams_seeded: int
    teams_after: int
    login_rounds: int
    code: str
    client_loop: str
    other_cpu_share: float  # CPU used by other processes during the run, 1.0 = one core
    database_cpu_share: float  # CPU of the PostgreSQL and Redis servers during the run
    idle_cpu_share: float  # the server's own CPU use with no requests (background work)


def _login(client: httpx.Client, server: KithServer) -> dict[str, object]:
    response = client.post(
        f"{API}/auth/login", json={"email": server.email, "password": server.password}
    )
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


def measure_logins(server: KithServer, rounds: int) -> Result:
    """Sequential sign-ins with the right password (successes are not throttled)."""
    latencies: list[float] = []
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        _login(client, server)  # warm-up
        cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
        client_before = time.process_time()
        for _ in range(rounds):
            started = time.perf_counter()
            _login(client, server)
            latencies.append(time.perf_counter() - started)
        elapsed = time.perf_counter() - wall_before
    return Result(
        LOGIN_OPERATION,
        "POST /api/v1/auth/login (sequential)",
        1,
        latencies,
        0,
        elapsed,
        server_cpu=server.cpu_seconds() - cpu_before,
        client_cpu=time.process_time() - client_before,
    )


def _seed(server: KithServer, headers: dict[str, str], teams: int) -> tuple[int, str]:
    """Teams to list, and one idempotent create whose key the replay operation reuses."""
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60.0) as client:
        for i in range(teams):
            response = client.post(f"{API}/teams", json={"name": f"Seed team {i:04d}"})
            response.raise_for_status()
        key = uuid.uuid4().hex
        response = client.post(
            f"{API}/teams",
            content=_replay_body(key),
            headers={"idempotency-key": key, "content-type": "application/json"},
        )
        response.raise_for_status()
        users = client.get(f"{API}/users?limit=1").json()["totalCount"]
    return int(users), key


def _teams(server: KithServer, headers: dict[str, str]) -> int:
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60.0) as client:
        response = client.get(f"{API}/teams?limit=1")
        response.raise_for_status()
        return int(response.json()["totalCount"])


async def _measure(
    server: KithServer,
    ops: Sequence[Operation],
    *,
    token: str,
    concurrency: int,
    duration: float,
    requests: int | None,
    warmup: float,
    progress: Callable[[str], None],
    profiler: PySpy | None,
) -> list[Result]:
    pool = ClientPool(server.base_url, concurrency, {"authorization": f"Bearer {token}"})
    results: list[Result] = []
    try:
        for op in ops:
            progress(f"{op.label}: warm-up {warmup:.1f} s")
            await run_operation(pool, op, duration=warmup)
            progress(f"{op.label}: measuring")
            result = await run_operation(
                pool,
                op,
                duration=duration if requests is None else max(duration, 600.0),
                requests=requests,
                cpu_clock=server.cpu_seconds,
                on_start=(
                    (lambda op=op: profiler.start(op.key, time.perf_counter()))
                    if profiler
                    else None
                ),
                on_stop=(lambda: profiler.stop(time.perf_counter())) if profiler else None,
            )
            results.append(result)
    finally:
        await pool.aclose()
    return results


def _event_loop_runner() -> tuple[asyncio.Runner, str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner(), "asyncio"
    return asyncio.Runner(loop_factory=uvloop.new_event_loop), "uvloop"


def run(
    server: KithServer,
    backend: Backend,
    *,
    only: Sequence[str],
    concurrency: int,
    duration: float,
    requests: int | None,
    login_rounds: int,
    progress: Callable[[str], None],
    profiler: PySpy | None = None,
) -> Run:
    started = datetime.now(UTC)
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        token = str(_login(client, server)["accessToken"])
    headers = {"authorization": f"Bearer {token}"}
    progress(f"seeding {SEEDED_TEAMS} teams")
    users, replay_key = _seed(server, headers, SEEDED_TEAMS)
    teams_seeded = _teams(server, headers)
    progress("measuring the idle server for 2 s")
    idle_before, idle_started = server.cpu_seconds(), time.perf_counter()
    time.sleep(2.0)
    idle_cpu = (server.cpu_seconds() - idle_before) / (time.perf_counter() - idle_started)

    busy_before, server_before = machine_busy_seconds(), server.cpu_seconds()
    database_before = processes_cpu_seconds()
    own_before, wall_before = time.process_time(), time.perf_counter()
    ops = [op for op in operations(replay_key) if op.key in only]
    warmup = min(2.0, max(0.5, duration / 10))
    runner, loop_name = _event_loop_runner()
    with runner:
        results = runner.run(
            _measure(
                server,
                ops,
                token=token,
                concurrency=concurrency,
                duration=duration,
                requests=requests,
                warmup=warmup,
                progress=progress,
                profiler=profiler,
            )
        )
    if LOGIN_OPERATION in only:
        progress(f"{login_rounds} sequential logins")
        results.append(measure_logins(server, login_rounds))
    wall = time.perf_counter() - wall_before
    database = cpu_used_since(database_before) / wall
    others = (
        (machine_busy_seconds() - busy_before)
        - (server.cpu_seconds() - server_before)
        - (time.process_time() - own_before)
    ) / wall - database
    return Run(
        backend=backend,
        machine=Machine.detect(),
        started=started,
        concurrency=concurrency,
        duration=duration,
        requests=requests,
        results=results,
        users=users,
        teams_seeded=teams_seeded,
        teams_after=_teams(server, headers),
        login_rounds=login_rounds,
        code=code_version(),
        client_loop=loop_name,
        other_cpu_share=max(0.0, others),
        database_cpu_share=database,
        idle_cpu_share=idle_cpu,
    )


def login_summary(result: Result) -> str:
    ordered = sorted(result.latencies)
    return (
        f"Sign-in, {len(ordered)} sequential logins: p50 {percentile(ordered, 50) * 1000:.0f} ms, "
        f"p95 {percentile(ordered, 95) * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
        if ordered
        else "Sign-in: not measured"
    )


def _server_stack() -> str:
    parts = []
    for module, name in (("uvloop", "uvloop"), ("httptools", "httptools")):
        try:
            __import__(module)
        except ImportError:
            continue
        parts.append(name)
    return ", ".join(parts) or "asyncio, h11"


def markdown_block(
    run: Run, *, backend_detail: str, command: str, server_errors: Sequence[str] = ()
) -> str:
    from bench.harness import RATE_LIMIT
    from bench.report import markdown_table

    http_results = [r for r in run.results if r.key != LOGIN_OPERATION]
    logins = next((r for r in run.results if r.key == LOGIN_OPERATION), None)
    if run.requests is not None:
        window = f"{run.requests:,} requests per operation"
    else:
        window = f"{run.duration:g} s per operation"
    warmup = min(2.0, max(0.5, run.duration / 10))
    lines = [
        f"### {run.backend.label}",
        "",
        f"- **Date**: {run.started:%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {run.machine.describe()}",
        f"- **Software**: {run.machine.python}; {run.code}",
        f"- **Backend**: {backend_detail}",
        f"- **Server**: `kith serve`, one uvicorn worker ({_server_stack()}), "
        f"`KITH_LOG_LEVEL=WARNING`, `KITH_RATE_LIMIT={RATE_LIMIT}` (limiter on, never 429); "
        f"idle, the server process uses {run.idle_cpu_share:.0%} of a core",
        f"- **Dataset**: 1 organization, {run.users} user(s), {run.teams_seeded} teams while "
        f"reading; {run.teams_after:,} teams after the writes",
        f"- **Load**: {run.concurrency} concurrent clients (httpx on {run.client_loop}, one "
        f"keep-alive connection each, one process on the same machine), {window} after a "
        f"{warmup:g} s warm-up",
        f"- **Command**: `{command}`",
        f"- **Other load**: PostgreSQL and Redis used {run.database_cpu_share:.0%} of a core "
        f"during the run, other processes (not the server, the load generator or the "
        f"databases) {run.other_cpu_share:.0%}",
        "",
    ]
    if http_results:
        lines += [markdown_table(http_results), ""]
    if logins is not None:
        lines += [
            f"{login_summary(logins)} (argon2id at the default cost, t=3, 64 MiB; "
            f"server CPU {logins.server_cpu_per_request_ms or 0:.0f} ms per login).",
            "",
        ]
    failed = [r for r in run.results if r.errors]
    if failed:
        lines.append(
            "**Errors**: "
            + "; ".join(f"{r.errors:,} in {r.label}" for r in failed)
            + ". The server logged: "
            + "; ".join(f"`{line.replace('`', '')}`" for line in server_errors)
            + "."
        )
    return "\n".join(lines).strip() + "\n"
