"""Contacts at scale: ``python -m bench.contacts`` (also ``kith bench search``).

    .venv/bin/python -m bench.contacts --contacts 1000000              # SQLite
    .venv/bin/python -m bench.contacts --contacts 1000000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test    # throwaway database
    .venv/bin/python -m bench.contacts --contacts 20000 --duration 2    # smoke run

Starts a throwaway Kith (``bench.harness``: migrate, create-admin, ``kith serve`` without
the embedded worker), generates N realistic contacts into its organization with the bulk
loader (:mod:`bench.contacts_load`, reporting contacts/s and where the time went), then
measures over HTTP, with 1 client (latency) and 32 clients (throughput): contact search
(a selective term, a common term, a 3-letter prefix), the contact list (default sort; a
status + tag filter; the same filter 50 pages deep by cursor), GET and PATCH of random
contacts and POST /contacts (unique new email and phone: the duplicate checks run and
find nothing). Runs with at least 100,000 contacts and 5 s per operation update the
"Contacts at scale" section of bench/RESULTS.md (one block per backend).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import pickle
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from rich.console import Console
from rich.table import Table

from bench.contacts_data import Dataset, Generator
from bench.contacts_load import DEFAULT_OWNERS, LoadReport, ensure_owners, load_contacts
from bench.contacts_vocabulary import DE_LAST, EN_LAST, FR_LAST
from bench.harness import (
    Backend,
    KithServer,
    Machine,
    code_version,
    cpu_used_since,
    kith_server,
    machine_busy_seconds,
    processes_cpu_seconds,
)
from bench.load import ClientPool, Operation, Result, run_operation
from bench.profiling import PySpy, find_py_spy
from bench.report import RESULTS_PATH, result_row, update_results

console = Console(width=max(160, Console().width))

HEADING = "Contacts at scale"
INTRO = """\
The contacts API over a large organization: `python -m bench.contacts --contacts N`
(or `kith bench search`) starts a throwaway Kith, generates N contacts with
`bench/contacts_data.py` (deterministic and realistic: US/UK/German/French names with
real frequency skew plus rare surnames, 1-2 emails, 0-2 phones, a few thousand companies
with domains, positions, Zipf-distributed tags, statuses, lead scores, owners, three
years of creation dates) through the bulk loader (`bench/contacts_load.py`: SQLite
`executemany`, PostgreSQL `COPY`, indexes and the full-text index built once at the end)
and measures the real `kith serve` over HTTP, first with 1 client (latency), then with
32 (throughput). Search is `GET /api/v1/contacts/search?q=` (ranked, highlighted): a
rare surname (matches 1-2 contacts), a frequent first name, a 3-letter prefix. Lists are
`GET /api/v1/contacts` (default sort by name, 20 per page, with `totalCount`): unfiltered,
`status` + `tag`, and the same filter 50 pages deep through `nextCursor`. GET and PATCH
hit random contacts; POST creates a contact with a new email and phone, so the exact
duplicate checks (email, phone blind index) run and find nothing. Targets
(ARCHITECTURE.md §5, p95): search selective ≤10 ms, common term / prefix ≤50 ms (1
client); list pages and GET by id ≤15 ms at 32 clients; create with duplicate checks
≤25 ms (1 client). Latencies are measured by the client in a closed loop, so at 32
clients they include queueing in the one server process."""

API = "/api/v1"
CONTACTS = f"{API}/contacts"
WRITE_MIN_CONTACTS = 100_000
SMOKE_SECONDS = 5.0
DEEP_PAGES = 50
CONCURRENCY = (1, 32)
FILTERS = [
    {"status": "CUSTOMER", "tag": "vip"},
    {"status": "PROSPECT", "tag": "newsletter"},
    {"status": "LEAD", "tag": "decision-maker"},
    {"status": "CUSTOMER", "tag": "partner"},
]


@dataclass(frozen=True)
class Target:
    p95_ms: float
    concurrency: int  # the run the target is checked on


TARGETS: dict[str, Target] = {
    "search.selective": Target(10, 1),
    "search.common": Target(50, 1),
    "search.prefix": Target(50, 1),
    "list.default": Target(15, 32),
    "list.filter": Target(15, 32),
    "list.deep": Target(15, 32),
    "get": Target(15, 32),
    "create": Target(25, 1),
}


class VaryingOperation(Operation):
    """An :class:`Operation` whose path is the next of ``paths`` at every request."""

    def __init__(
        self,
        key: str,
        label: str,
        method: str,
        paths: Sequence[str],
        expect: int = 200,
        build: Callable[[], tuple[dict[str, str], bytes | None]] | None = None,
    ) -> None:
        self.paths = list(paths)
        self._next = itertools.cycle(self.paths)
        super().__init__(key, label, method, self.paths[0], expect, build or (lambda: ({}, None)))

    @property  # type: ignore[override]
    def path(self) -> str:
        return next(self._next)

    @path.setter
    def path(self, _value: str) -> None:  # set by Operation.__init__; the cycle decides
        pass


def _json(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _query(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}"


def prefixes() -> list[str]:
    """3-letter prefixes of frequent names (each matches many contacts)."""
    names = ["james", "michael", "mary", "john", "robert", "thomas", "david", "marie"]
    names += [n.lower() for n in EN_LAST[:6] + DE_LAST[:3] + FR_LAST[:3]]
    return list(dict.fromkeys(name[:3] for name in names))


@dataclass
class Queries:
    """The values the operations cycle through, taken from the generated data."""

    selective: list[str]
    common: list[str]
    prefixes: list[str]
    ids: list[str]
    deep_cursors: list[str]
    deep_depth: int
    filter_counts: list[str]  # totalCount of the first page, "200+" when capped
    companies: list[str]


def operations(queries: Queries, generator: Generator, run_id: str) -> list[Operation]:
    creates = itertools.count()
    patches = itertools.count()
    rng = random.Random(7)

    def new_contact() -> tuple[dict[str, str], bytes]:
        n = next(creates)
        # Unused numbers: the generated data takes slots below 2 * count.
        number, _ = generator.phone("US", (generator.count + n) * 2 + 1)
        body = {
            "firstName": rng.choice(["Ada", "Grace", "Linus", "Margaret", "Alan"]),
            "lastName": f"Newcomer{run_id}{n}",
            "email": f"new.{run_id}.{n}@newcomer.example",
            "phone": number,
            "company": rng.choice(queries.companies),
            "position": "Buyer",
            "tags": ["benchmark"],
        }
        return {}, _json(body)

    def patch() -> tuple[dict[str, str], bytes]:
        n = next(patches)
        return {}, _json({"leadScore": n % 101, "position": f"Director {n % 7}"})

    search = f"{CONTACTS}/search"
    filtered = [_query(CONTACTS, **f) for f in FILTERS]
    return [
        VaryingOperation(
            "search.selective",
            "search, selective term (rare surname)",
            "GET",
            [_query(search, q=q) for q in queries.selective],
        ),
        VaryingOperation(
            "search.common",
            "search, common term (frequent first name)",
            "GET",
            [_query(search, q=q) for q in queries.common],
        ),
        VaryingOperation(
            "search.prefix",
            "search, 3-letter prefix",
            "GET",
            [_query(search, q=q) for q in queries.prefixes],
        ),
        VaryingOperation("list.default", "list, first page (sort by name)", "GET", [CONTACTS]),
        VaryingOperation("list.filter", "list, status + tag, first page", "GET", filtered),
        VaryingOperation(
            "list.deep",
            f"list, status + tag, page {queries.deep_depth + 1} by cursor",
            "GET",
            queries.deep_cursors or filtered,
        ),
        VaryingOperation(
            "get", "GET /contacts/{id}", "GET", [f"{CONTACTS}/{i}" for i in queries.ids]
        ),
        VaryingOperation(
            "create", "POST /contacts (duplicate checks)", "POST", [CONTACTS], 201, new_contact
        ),
        VaryingOperation(
            "patch",
            "PATCH /contacts/{id}",
            "PATCH",
            [f"{CONTACTS}/{i}" for i in reversed(queries.ids)],
            200,
            patch,
        ),
    ]


OPERATION_KEYS = [
    "search.selective",
    "search.common",
    "search.prefix",
    "list.default",
    "list.filter",
    "list.deep",
    "get",
    "create",
    "patch",
]


# -- preparing ----------------------------------------------------------------------------


@dataclass
class Prepared:
    dataset: Dataset
    generator: Generator
    report: LoadReport
    organization_id: uuid.UUID
    size: str
    database_url: str
    reused_from: str | None = None  # when the data came from --cache: when it was made


def _settings(server: KithServer, **overrides: Any) -> Any:
    """The server's settings (its data dir holds the development keys)."""
    from kith.settings import Settings

    values: dict[str, Any] = {
        "env": "development",
        "data_dir": server.data_dir,
        "database_url": server.env.get("KITH_DATABASE_URL", ""),
        "log_level": "WARNING",
    }
    return Settings(**(values | overrides))


def generate(server: KithServer, count: int, seed: int, progress: bool = True) -> Prepared:
    """Generate ``count`` contacts into the server's organization (the server is idle)."""
    from sqlalchemy import text

    from kith.app import configure_crypto
    from kith.db.engine import make_engine

    settings = _settings(server)
    configure_crypto(settings)
    engine = make_engine(settings.database_url, settings)
    try:
        with engine.connect() as connection:
            organization = connection.execute(text("SELECT id FROM organizations")).scalar_one()
        organization_id = (
            organization if isinstance(organization, uuid.UUID) else uuid.UUID(organization)
        )
        owners = ensure_owners(engine, organization_id, DEFAULT_OWNERS)
        with _progress("generating contacts", count, enabled=progress) as advance:
            report, dataset = load_contacts(
                engine, organization_id, count, owner_ids=owners, seed=seed, progress=advance
            )
        size = database_size(engine)
    finally:
        engine.dispose()
    generator = Generator(
        count, organization_id=organization_id, owner_ids=owners, dialect="sqlite", seed=seed
    )
    return Prepared(dataset, generator, report, organization_id, size, settings.database_url)


# -- reusing a generated dataset (--cache) -----------------------------------------------


@dataclass
class _Kept:
    """What a later run needs besides the database: pickled next to it."""

    dataset: Dataset
    report: LoadReport
    organization_id: uuid.UUID
    owner_ids: list[uuid.UUID]
    size: str
    password: str
    made: str


def _cache_dir(root: Path, backend: Backend, count: int, seed: int) -> Path:
    return root / f"{backend.slug}-{count}-{seed}"


def _cache_database(directory: Path) -> str:
    return "kith_bench_cache_" + directory.name.replace("-", "_")


def _admin_dsn(database_url: str) -> tuple[str, str]:
    from sqlalchemy import make_url

    from kith.db.engine import normalize_url

    url = make_url(normalize_url(database_url))
    admin = url.set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False), str(url.database)


def _restart(server: KithServer, swap: Callable[[], None]) -> None:
    """Stop ``kith serve``, ``swap`` its database, start it again on the same port."""
    from bench.harness import _kith_command, _wait_until_healthy

    server.process.terminate()
    server.process.wait(timeout=30)
    swap()
    port = server.base_url.rsplit(":", 1)[1]
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            _kith_command("serve", "--port", port),
            env=server.env,
            cwd=server.data_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _wait_until_healthy(server)


def keep(server: KithServer, prepared: Prepared, directory: Path) -> None:
    """Save the generated database (and the keys its phones are encrypted with) for
    ``--cache`` runs of the same size, seed and backend."""
    import sqlite3

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(server.data_dir / "secrets.json", directory / "secrets.json")
    if prepared.database_url.startswith("sqlite"):
        source = sqlite3.connect(str(server.data_dir / "kith.db"))
        target = sqlite3.connect(str(directory / "kith.db"))
        with target:
            source.backup(target)
        source.close()
        target.close()
    else:
        import psycopg

        admin, name = _admin_dsn(prepared.database_url)

        def snapshot() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                cached = _cache_database(directory)
                conn.execute(f'DROP DATABASE IF EXISTS "{cached}"')
                conn.execute(f'CREATE DATABASE "{cached}" TEMPLATE "{name}"')

        _restart(server, snapshot)  # a template database must have no connections
    kept = _Kept(
        dataset=prepared.dataset,
        report=prepared.report,
        organization_id=prepared.organization_id,
        owner_ids=list(prepared.dataset.owner_ids),
        size=prepared.size,
        password=server.password,
        made=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    )
    (directory / "prepared.pickle").write_bytes(pickle.dumps(kept))


def restore(server: KithServer, directory: Path, count: int, seed: int) -> Prepared:
    """Put a kept dataset into the server's (fresh) database instead of generating it;
    each run starts from the kept copy, not from what an earlier run wrote."""
    kept: _Kept = pickle.loads((directory / "prepared.pickle").read_bytes())
    database_url = server.env.get("KITH_DATABASE_URL", "")

    def swap() -> None:
        from bench.harness import _kith_command

        shutil.copyfile(directory / "secrets.json", server.data_dir / "secrets.json")
        if not database_url:
            for suffix in ("-wal", "-shm"):
                (server.data_dir / f"kith.db{suffix}").unlink(missing_ok=True)
            shutil.copyfile(directory / "kith.db", server.data_dir / "kith.db")
        else:
            import psycopg

            admin, name = _admin_dsn(database_url)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_cache_database(directory)}"')
        # This code's schema may be newer than the kept database's.
        subprocess.run(
            _kith_command("migrate"),
            env=server.env,
            cwd=server.data_dir,
            check=True,
            capture_output=True,
        )

    _restart(server, swap)
    server.password = kept.password
    settings = _settings(server)
    from kith.app import configure_crypto

    configure_crypto(settings)  # the generator encrypts as the kept database's keys do
    generator = Generator(
        count,
        organization_id=kept.organization_id,
        owner_ids=kept.owner_ids,
        dialect="sqlite",
        seed=seed,
    )
    return Prepared(
        kept.dataset,
        generator,
        kept.report,
        kept.organization_id,
        kept.size,
        settings.database_url,
        reused_from=kept.made,
    )


def database_size(engine: Any) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
            return f"database file {pages * page_size / 2**30:,.2f} GiB"
        total = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
        return f"database {total.scalar_one() / 2**30:,.2f} GiB"


@contextlib.contextmanager
def _progress(label: str, total: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


def _login(server: KithServer) -> str:
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        response = client.post(
            f"{API}/auth/login", json={"email": server.email, "password": server.password}
        )
        response.raise_for_status()
        return str(response.json()["accessToken"])


def prepare_queries(
    server: KithServer, token: str, prepared: Prepared, deep_pages: int = DEEP_PAGES
) -> Queries:
    """Search terms and ids from the dataset; cursors ``deep_pages`` pages into each
    filtered list (as deep as the list goes)."""
    dataset = prepared.dataset
    ids = [str(i) for i in dataset.contact_ids]
    random.Random(3).shuffle(ids)
    cursors: list[str] = []
    counts: list[str] = []
    depth = deep_pages
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=120.0) as client:
        for params in FILTERS:
            cursor: str | None = None
            pages = 0
            for pages in range(deep_pages):
                query = dict(params, **({"cursor": cursor} if cursor else {}))
                response = client.get(CONTACTS, params=query)
                response.raise_for_status()
                body = response.json()
                if pages == 0:
                    capped = "+" if body.get("totalCountCapped") else ""
                    counts.append(f"{int(body['totalCount']):,}{capped}")
                cursor = body["pagination"]["nextCursor"]
                if not cursor:
                    break
            if cursor:
                cursors.append(_query(CONTACTS, **params, cursor=cursor))
                depth = min(depth, pages + 1)
    return Queries(
        selective=dataset.selective_surnames(100),
        common=dataset.common_first_names(10),
        prefixes=prefixes(),
        ids=ids,
        deep_cursors=cursors,
        deep_depth=depth if cursors else 0,
        filter_counts=counts,
        companies=[c.name for c in dataset.companies[:200]],
    )


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Run:
    backend: Backend
    machine: Machine
    started: datetime
    contacts: int
    duration: float
    results: list[Result]
    load: LoadReport
    dataset: Dataset
    queries: Queries
    size: str
    code: str
    client_loop: str
    other_cpu_share: float
    database_cpu_share: float
    checks: dict[str, str] = field(default_factory=dict)
    reused_from: str | None = None


async def _measure(
    server: KithServer,
    ops: Sequence[Operation],
    *,
    token: str,
    concurrency: Sequence[int],
    duration: float,
    warmup: float,
    progress: Callable[[str], None],
    profiler: PySpy | None = None,
) -> list[Result]:
    results: list[Result] = []
    headers = {"authorization": f"Bearer {token}"}
    for clients in concurrency:
        pool = ClientPool(server.base_url, clients, headers)
        try:
            for op in ops:
                progress(f"{op.label}, {clients} client(s): warm-up {warmup:g} s")
                await run_operation(pool, op, duration=warmup)
                progress(f"{op.label}, {clients} client(s): measuring {duration:g} s")
                name = f"{op.key}.c{clients}"
                results.append(
                    await run_operation(
                        pool,
                        op,
                        duration=duration,
                        cpu_clock=server.cpu_seconds,
                        on_start=(
                            (lambda name=name: profiler.start(name, time.perf_counter()))
                            if profiler
                            else None
                        ),
                        on_stop=(lambda: profiler.stop(time.perf_counter())) if profiler else None,
                    )
                )
        finally:
            await pool.aclose()
    return results


def _event_loop_runner() -> tuple[asyncio.Runner, str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner(), "asyncio"
    return asyncio.Runner(loop_factory=uvloop.new_event_loop), "uvloop"


def measure(
    server: KithServer,
    backend: Backend,
    prepared: Prepared,
    *,
    only: Sequence[str],
    concurrency: Sequence[int],
    duration: float,
    progress: Callable[[str], None],
    profiler: PySpy | None = None,
) -> Run:
    started = datetime.now(UTC)
    token = _login(server)
    progress(f"following nextCursor {DEEP_PAGES} pages into {len(FILTERS)} filtered lists")
    queries = prepare_queries(server, token, prepared)
    ops = [
        op for op in operations(queries, prepared.generator, uuid.uuid4().hex[:6]) if op.key in only
    ]
    busy_before, server_before = machine_busy_seconds(), server.cpu_seconds()
    database_before = processes_cpu_seconds()
    own_before, wall_before = time.process_time(), time.perf_counter()
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
                warmup=warmup,
                progress=progress,
                profiler=profiler,
            )
        )
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
        contacts=prepared.dataset.count,
        duration=duration,
        results=results,
        load=prepared.report,
        dataset=prepared.dataset,
        queries=queries,
        size=prepared.size,
        code=code_version(),
        client_loop=loop_name,
        other_cpu_share=max(0.0, others),
        database_cpu_share=database,
        checks=verdicts(results),
        reused_from=prepared.reused_from,
    )


def verdicts(results: Sequence[Result]) -> dict[str, str]:
    """``met``/``missed`` per operation with a target, on the run the target names."""
    found: dict[str, str] = {}
    for result in results:
        target = TARGETS.get(result.key)
        if target is None or result.concurrency != target.concurrency:
            continue
        met = not result.errors and result.ms(95) <= target.p95_ms
        found[result.key] = "met" if met else "missed"
    return found


# -- reporting ----------------------------------------------------------------------------

COLUMNS = ("target (p95)",)


def _target_cell(result: Result, checks: dict[str, str]) -> str:
    target = TARGETS.get(result.key)
    if target is None or target.concurrency != result.concurrency:
        return "—"
    verdict = checks.get(result.key, "?")
    return f"≤{target.p95_ms:g} ms {'met' if verdict == 'met' else '**missed**'}"


def markdown_block(run: Run, *, backend_detail: str, command: str, errors: Sequence[str]) -> str:
    from bench.report import COLUMNS as BASE_COLUMNS

    load, dataset = run.load, run.dataset
    rows = load.rows
    total_rows = sum(rows.values())
    stages = ", ".join(f"{name} {seconds:,.1f} s" for name, seconds in load.stages.items())
    filters = ", ".join(
        f"`{'&'.join(f'{k}={v}' for k, v in params.items())}` {count}"
        for params, count in zip(FILTERS, run.queries.filter_counts, strict=False)
    )
    lines = [
        f"### {run.backend.label}",
        "",
        f"- **Date**: {run.started:%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {run.machine.describe()}",
        f"- **Software**: {run.machine.python}; {run.code}",
        f"- **Backend**: {backend_detail}",
        f"- **Dataset**: {run.contacts:,} contacts in 1 organization ({len(dataset.owner_ids)} "
        f"owners), {rows['companies']:,} companies, {rows['contact_emails']:,} emails, "
        f"{rows['contact_phones']:,} phones, {rows['contact_tags']:,} tags; {run.size}. "
        f"Filtered lists: {filters} matches",
        f"- **Generation**: {load.seconds:,.0f} s, **{load.rate:,.0f} contacts/s** "
        f"({total_rows:,} rows, {total_rows / load.seconds:,.0f} rows/s); {stages}"
        + (
            f" (generated {run.reused_from} and kept with `--cache`; this run started "
            "from a copy of it, migrated to the current schema)"
            if run.reused_from
            else ""
        ),
        "- **Lists**: `totalCount` is exact up to 200 matches, then 200 with "
        "`totalCountCapped: true` (counting every match of a filter read all of them on "
        "every page); pages reached by `nextCursor` carry the first page's count",
        "- **Server**: `kith serve` without the embedded worker (`KITH_EMBEDDED_WORKER=false`, "
        "as `--no-worker`), one uvicorn worker, `KITH_LOG_LEVEL=WARNING`",
        f"- **Load**: 1 client, then 32 (httpx on {run.client_loop}, one keep-alive "
        f"connection each, one process on the same machine), {run.duration:g} s per "
        "operation after a warm-up; search terms, ids and cursors cycle through "
        f"{len(run.queries.selective)} rare surnames, {len(run.queries.common)} first names, "
        f"{len(run.queries.prefixes)} prefixes, {len(run.queries.ids):,} ids, "
        f"{len(run.queries.deep_cursors)} cursors",
        f"- **Command**: `{command}`",
        f"- **Other load**: the database server used {run.database_cpu_share:.0%} of a core "
        f"during the run, other processes {run.other_cpu_share:.0%}",
        "",
        "| " + " | ".join((*BASE_COLUMNS, *COLUMNS)) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(BASE_COLUMNS) - 1) + ["---"]) + "|",
    ]
    for result in run.results:
        cells = [*result_row(result), _target_cell(result, run.checks)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    met = sorted(k for k, v in run.checks.items() if v == "met")
    missed = sorted(k for k, v in run.checks.items() if v != "met")
    lines += [
        "",
        f"Targets met: {', '.join(met) or 'none'}; missed: {', '.join(missed) or 'none'}.",
    ]
    failed = [r for r in run.results if r.errors]
    if failed:
        lines.append(
            "\n**Errors**: "
            + "; ".join(f"{r.errors:,} in {r.label} ({r.concurrency} clients)" for r in failed)
            + (
                ". The server logged: " + "; ".join(f"`{e.replace('`', '')}`" for e in errors)
                if errors
                else ""
            )
            + "."
        )
    return "\n".join(lines)


def rich_table(title: str, run: Run) -> Table:
    from bench.report import COLUMNS as BASE_COLUMNS

    table = Table(title=title)
    for i, column in enumerate((*BASE_COLUMNS, *COLUMNS)):
        table.add_column(column, justify="left" if i == 0 else "right")
    for result in run.results:
        target = TARGETS.get(result.key)
        checked = target is not None and target.concurrency == result.concurrency
        missed = checked and run.checks.get(result.key) != "met"
        row = [result.key, *result_row(result)[1:]]  # the short name: fits a terminal
        table.add_row(*row, _target_cell(result, run.checks), style="red" if missed else None)
    return table


# -- main ---------------------------------------------------------------------------------


def explain_to(path: Path, server: KithServer, prepared: Prepared) -> None:
    from bench import contacts_explain

    settings = _settings(server, embedded_worker=False)
    profiles = contacts_explain.profile(settings, prepared.organization_id)
    backend = "PostgreSQL" if prepared.database_url.startswith("postgres") else "SQLite"
    path.write_text(contacts_explain.markdown(profiles, backend))


def _hide_password(url: str) -> str:
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.contacts",
        description="Generate N contacts into a throwaway Kith and measure the contacts API.",
    )
    parser.add_argument(
        "--contacts", type=int, default=1_000_000, help="contacts to generate (default 1M)"
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server for a throwaway database"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds measured per operation (10)"
    )
    parser.add_argument(
        "--concurrency",
        default=",".join(str(c) for c in CONCURRENCY),
        help="client counts to run every operation with (default 1,32)",
    )
    parser.add_argument(
        "--only",
        default=",".join(OPERATION_KEYS),
        help="comma-separated operations (default all): " + ", ".join(OPERATION_KEYS),
    )
    parser.add_argument("--seed", type=int, default=20261123, help="generator seed")
    parser.add_argument(
        "--cache",
        metavar="DIR",
        type=Path,
        help="keep the generated database in DIR (a file there, or a database on the "
        "PostgreSQL server) and reuse it in later runs of the same size, seed and backend "
        "instead of generating again (each run starts from the kept copy)",
    )
    parser.add_argument(
        "--explain",
        metavar="FILE",
        type=Path,
        help="after measuring, write every SQL statement of each operation with its time "
        "and plan to FILE (bench/contacts_explain.py)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="record a py-spy profile of the server per operation into DIR (py-spy is not a "
        "Kith dependency; the numbers are then not representative and not written)",
    )
    parser.add_argument(
        "--py-spy", metavar="PATH", help="the py-spy executable (default: py-spy on PATH)"
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"update {RESULTS_PATH.name} (default: with --contacts >= {WRITE_MIN_CONTACTS:,} "
        f"and --duration >= {SMOKE_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    only = [key.strip() for key in args.only.split(",") if key.strip()]
    unknown = sorted(set(only) - set(OPERATION_KEYS))
    if unknown:
        parser.error(f"unknown operation(s) {', '.join(unknown)}")
    args.only = only
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes comma-separated numbers")
    if args.contacts < 1000 or args.duration <= 0 or not all(c > 0 for c in args.concurrency):
        parser.error("--contacts must be at least 1000, --duration and --concurrency positive")
    if args.profile is not None:
        args.py_spy = find_py_spy(args.py_spy)
        if args.py_spy is None:
            parser.error(
                "--profile needs py-spy: install it (pipx install py-spy) or pass --py-spy"
            )
    if args.write is None:
        args.write = (
            args.contacts >= WRITE_MIN_CONTACTS
            and args.duration >= SMOKE_SECONDS
            and args.profile is None
        )
    return args


def _command(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python -m bench.contacts", f"--contacts {args.contacts}"]
    if args.postgres:
        parts.append(f"--postgres {_hide_password(args.postgres)}")
    parts.append(f"--duration {args.duration:g}")
    if args.only != OPERATION_KEYS:
        parts.append(f"--only {','.join(args.only)}")
    if args.concurrency != list(CONCURRENCY):
        parts.append(f"--concurrency {','.join(str(c) for c in args.concurrency)}")
    return " ".join(parts)


def _backend_detail(database_url: str) -> str:
    from sqlalchemy import create_engine

    from kith.db.engine import normalize_url

    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                version = connection.exec_driver_sql("SELECT sqlite_version()").scalar_one()
                return f"SQLite {version} (WAL, file in a temporary data dir)"
            version = connection.exec_driver_sql("SHOW server_version").scalar_one()
            memory = connection.exec_driver_sql("SHOW shared_buffers").scalar_one()
            return (
                f"PostgreSQL {str(version).split()[0]} (throwaway database on the local "
                f"server, shared_buffers {memory})"
            )
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backend = Backend(postgres_url=args.postgres)
    console.print(
        f"[bold]Contacts at scale[/bold] on {backend.label}: {args.contacts:,} contacts, "
        f"{args.duration:g} s per operation, clients {args.concurrency}"
    )

    def progress(message: str) -> None:
        console.print(f"  [dim]{message}[/dim]")

    progress("preparing a throwaway Kith (migrate, create-admin, serve)")
    with kith_server(backend, extra_env={"KITH_EMBEDDED_WORKER": "false"}) as server:
        cached = _cache_dir(args.cache, backend, args.contacts, args.seed) if args.cache else None
        if cached is not None and (cached / "prepared.pickle").exists():
            progress(f"reusing the {args.contacts:,} contacts kept in {cached}")
            prepared = restore(server, cached, args.contacts, args.seed)
        else:
            progress(f"generating {args.contacts:,} contacts")
            prepared = generate(server, args.contacts, args.seed)
            if cached is not None:
                progress(f"keeping the generated database in {cached}")
                keep(server, prepared, cached)
        load = prepared.report
        console.print(
            f"generated {args.contacts:,} contacts in {load.seconds:,.1f} s "
            f"({load.rate:,.0f} contacts/s, {sum(load.rows.values()):,} rows); {prepared.size}"
            + (f" (kept from {prepared.reused_from})" if prepared.reused_from else "")
        )
        console.print(f"  [dim]{load.breakdown()}[/dim]")
        profiler = PySpy(args.py_spy, server.process.pid, args.profile) if args.profile else None
        run = measure(
            server,
            backend,
            prepared,
            only=args.only,
            concurrency=args.concurrency,
            duration=args.duration,
            progress=progress,
            profiler=profiler,
        )
        errors = server.error_summary()
        if args.explain is not None:
            progress(f"explaining every statement of each operation into {args.explain}")
            explain_to(args.explain, server, prepared)
        detail = _backend_detail(prepared.database_url)
    for line in errors:
        console.print(f"[yellow]server log: {line}[/yellow]")
    console.print(rich_table(f"Contacts at scale, {backend.label}", run))
    for result in run.results:
        for sample in result.error_samples[:2]:
            console.print(f"[red]{result.label}: {' '.join(sample.split())[:160]}[/red]")
    if run.other_cpu_share > 0.1:
        console.print(
            f"[yellow]other processes used {run.other_cpu_share:.0%} of a core during the "
            "run: the numbers are disturbed[/yellow]"
        )
    block = markdown_block(run, backend_detail=detail, command=_command(args), errors=errors)
    if args.write:
        update_results(HEADING, INTRO, f"contacts:{backend.slug}", block)
        console.print(f"updated {RESULTS_PATH}")
    else:
        console.print(f"[dim]{RESULTS_PATH.name} not updated (smoke or profile run)[/dim]")
    return 1 if any(r.errors for r in run.results) else 0


if __name__ == "__main__":
    sys.exit(main())
