"""Full-text search at scale: ``python -m bench.search_index``.

    .venv/bin/python -m bench.search_index --docs 1000000           # SQLite
    .venv/bin/python -m bench.search_index --docs 1000000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test # throwaway database
    .venv/bin/python -m bench.search_index --docs 20000              # smoke run

Bulk-loads N synthetic contact documents (deterministic: names, emails, companies,
positions, tags and some notes from a seeded generator) into one organization of a
throwaway, migrated database — SQLite ``executemany`` through the real FTS5 triggers,
PostgreSQL ``COPY`` with the GIN index built afterwards — and times what a contact
list page with ``search=`` costs in the database: ``kith.search.search()`` joined to the
documents, ordered by rank, first 20 rows, through SQLAlchemy on one connection (warm
cache). Runs with ``--docs`` of 100,000 or more update the "Search index" section of
bench/RESULTS.md (its own block per backend).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, Select, and_, func, select, text
from sqlalchemy.orm import Session

from bench.harness import Machine, code_version, machine_busy_seconds, throwaway_postgres
from bench.report import RESULTS_PATH, update_results
from kith.db.engine import Database, make_engine
from kith.db.migrate import upgrade
from kith.search import DEFAULT_CANDIDATE_LIMIT, Document, highlights, search, stored_values
from kith.search.models import SearchDocument

console = Console()

WRITE_MIN_DOCS = 100_000
PAGE = 20
KIND = "contact"

HEADING = "Search index"
INTRO = """\
What full-text search costs in the database (not over HTTP): `kith.search.search()`
(SQLite FTS5 bm25 / PostgreSQL stored tsvector + GIN and `ts_rank_cd`) joined to the
documents table, ordered by rank, first 20 rows — the query a contact list with
`search=` runs — timed in the client around statement building, execution and fetch on
one connection, warm cache, one query at a time. The data is synthetic contacts in one
organization (deterministic names, emails, companies, positions, tags, notes for about
a third of them), loaded by `bench/search_index.py` into a throwaway database. Each
kind of query cycles through many different values (the examples column shows two;
matches are the median over a sample, counted without the candidate limit). "CPU
ms/query" is the CPU the benchmark process and, on PostgreSQL, the server backend of
its connection used per query: with other work on the machine, latency exceeds it.
Common terms and prefixes rank a bounded candidate set (`candidate_limit`, default
1,000): see kith/search/sqlite.py and postgres.py for that trade-off. Targets (ARCHITECTURE.md §5,
p95): selective ≤10 ms, common term / prefix ≤50 ms."""

# -- deterministic data ---------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words(
    """james mary john patricia robert jennifer michael linda william elizabeth
david barbara richard susan joseph jessica thomas sarah charles karen christopher lisa
daniel nancy matthew betty anthony margaret mark sandra donald ashley steven kimberly paul
emily andrew donna joshua michelle kenneth carol kevin amanda brian dorothy george melissa
timothy deborah ronald stephanie edward rebecca jason sharon jeffrey laura ryan cynthia
jacob kathleen gary amy nicholas angela eric shirley jonathan anna stephen brenda larry
pamela justin emma scott nicole brandon helen benjamin samantha samuel katherine gregory
christine alexander debra frank rachel patrick carolyn raymond janet jack catherine dennis
maria jerry heather tyler diane aaron ruth jose julie adam olivia nathan joyce henry
virginia douglas victoria zachary kelly peter lauren kyle christina noah joan ethan
evelyn jeremy judith walter megan christian andrea keith cheryl roger hannah terry jacqueline
austin martha sean gloria gerald teresa carl ann harold sara dylan madison arthur frances
lawrence kathryn jordan janice jesse jean bryan abigail billy alice bruce judy gabriel
sophia joe grace logan denise albert amber willie doris alan marilyn juan danielle wayne
beverly elijah isabella randy theresa roy diana vincent natalie ralph brittany eugene
charlotte russell marie bobby kayla mason alexis philip lori louis josé zoë renée françois
søren jürgen åsa chloé inès"""
)

LAST_NAMES = _words(
    """smith johnson williams brown jones garcia miller davis rodriguez martinez
hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez
thompson white harris sanchez clark ramirez lewis robinson walker young allen king wright
scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell
carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart
morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly
howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray mendoza
ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez powell
jenkins perry russell sullivan bell coleman butler henderson barnes gonzales fisher
vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin wallace
moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford
castro marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas
henry chen freeman webb tucker guzman burns crawford olson simpson porter hunter gordon
mendez silva shaw snyder mason dixon muñoz hunt hicks holmes palmer wagner black robertson
boyd rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols
stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce
vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong
hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston
matthews peña richards willis carpenter lawrence sandoval müller núñez lefèvre østergaard
"""
)

SYLLABLES = _words(
    """ka lo mi ra ten vor bel dri zu fen gar hol is jun kev lam nor pel quin
sar tov ul var wen xo yas zim bra cle dru fro gli hre ola pri stu tha vle"""
)

COMPANY_WORDS = _words(
    """acme blue river north star global prime apex summit vertex nova
bright stone oak pine cedar maple harbor bay metro urban coastal alpine silver golden
iron swift clear true first united pacific atlantic eastern western"""
)
COMPANY_KINDS = _words(
    """logistics systems labs partners holdings analytics dynamics
solutions foods capital energy health media robotics software consulting"""
)
POSITIONS = _words(
    """ceo cto cfo coo founder engineer director manager analyst consultant
designer developer architect accountant recruiter marketer salesperson
administrator scientist researcher"""
)
SENIORITY = ["", "", "senior", "lead", "head of", "vp"]
TAGS = _words(
    """vip key-account partner prospect newsletter event-2024 event-2025 investor
press churn-risk reference beta-tester referral warm cold"""
)
NOTE_WORDS = _words(
    """met call meeting follow up discussed pricing renewal contract proposal
demo intro conference coffee lunch budget quarter roadmap integration onboarding support
ticket feedback launch hiring team expansion office visit board decision timeline legal
review security compliance migration pilot trial upgrade invoice payment discount"""
)


def _zipf(values: Sequence[str], exponent: float) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(len(values))]


@dataclass
class Dataset:
    """The generator's choices, kept to build queries that hit real documents."""

    rare_surnames: list[str]
    sample_names: list[tuple[str, str]]
    sample_emails: list[str]


def _rare_surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))


def documents(
    count: int, seed: int, organization_id: uuid.UUID
) -> tuple[Iterator[Document], Dataset]:
    """The documents (in doc_id order, from 1) and the dataset."""
    rng = random.Random(seed)
    first_weights = _zipf(FIRST_NAMES, 0.7)
    last_weights = _zipf(LAST_NAMES, 0.8)
    companies = [
        f"{rng.choice(COMPANY_WORDS).title()} {rng.choice(COMPANY_WORDS).title()} "
        f"{rng.choice(COMPANY_KINDS).title()}"
        for _ in range(5000)
    ]
    dataset = Dataset([], [], [])

    def rows() -> Iterator[Document]:
        for doc_id in range(1, count + 1):
            first = rng.choices(FIRST_NAMES, first_weights)[0]
            last = (
                rng.choices(LAST_NAMES, last_weights)[0]
                if rng.random() < 0.7
                else _rare_surname(rng)
            )
            company = rng.choice(companies)
            domain = company.lower().replace(" ", "") + ".example"
            email = f"{first}.{last}{rng.randint(1, 99) if rng.random() < 0.3 else ''}@{domain}"
            emails = [email]
            if rng.random() < 0.2:
                emails.append(f"{first[0]}{last}@home.example")
            position = f"{rng.choice(SENIORITY)} {rng.choice(POSITIONS)}".strip()
            tags = rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3)))
            body = (
                " ".join(rng.choice(NOTE_WORDS) for _ in range(rng.randint(8, 30)))
                if rng.random() < 0.35
                else ""
            )
            if last not in LAST_NAMES and len(dataset.rare_surnames) < 200:
                dataset.rare_surnames.append(last)
            if doc_id % 997 == 0 and len(dataset.sample_names) < 200:
                dataset.sample_names.append((first, last))
                dataset.sample_emails.append(email)
            yield Document(
                organization_id=organization_id,
                kind=KIND,
                record_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                title=f"{first.title()} {last.title()}",
                emails=emails,
                subtitle=f"{company}, {position.title()}",
                tags=tags,
                body=body,
            )

    return rows(), dataset


# -- loading --------------------------------------------------------------------------

COLUMNS = (
    "organization_id",
    "kind",
    "record_id",
    "title",
    "emails",
    "subtitle",
    "tags",
    "body",
    "updated_at",
)


def create_organization(engine: Engine) -> uuid.UUID:
    organization_id = uuid.UUID(int=random.Random(1).getrandbits(128), version=4)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organizations (id, name, default_region, settings, created_at,"
                " updated_at) VALUES (:id, 'Bench', 'US', '{}', :now, :now)"
            ).bindparams(id=organization_id, now=now.replace(tzinfo=None)),
        )
    return organization_id


def _row(document: Document) -> tuple[object, ...]:
    values = stored_values(document)
    return tuple(values[name] for name in COLUMNS)


def load_sqlite(engine: Engine, rows: Iterator[Document], count: int) -> None:
    """executemany through the FTS5 triggers, 20,000 rows per transaction; doc_id
    from 1, as ``kith.search`` would number them."""
    placeholders = ", ".join("?" for _ in range(len(COLUMNS) + 1))
    sql = f"INSERT INTO search_documents ({', '.join(COLUMNS)}, doc_id) VALUES ({placeholders})"
    with _progress("loading", count) as advance:
        batch: list[tuple[object, ...]] = []
        for doc_id, document in enumerate(rows, 1):
            values = stored_values(document)
            batch.append(
                (
                    values["organization_id"].hex,
                    values["kind"],
                    values["record_id"].hex,
                    *(values[name] for name in COLUMNS[3:-1]),
                    values["updated_at"].replace(tzinfo=None).isoformat(" "),
                    doc_id,
                )
            )
            if len(batch) == 20_000:
                _sqlite_batch(engine, sql, batch)
                advance(len(batch))
                batch = []
        if batch:
            _sqlite_batch(engine, sql, batch)
            advance(len(batch))
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def _sqlite_batch(engine: Engine, sql: str, batch: list[tuple[object, ...]]) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(sql, batch)


def load_postgres(engine: Engine, rows: Iterator[Document], count: int) -> None:
    """COPY without the GIN index, then build it (as a bulk import would), VACUUM ANALYZE."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute("DROP INDEX search_documents_fts_gin")
            with (
                _progress("loading", count) as advance,
                cursor.copy(f"COPY search_documents ({', '.join(COLUMNS)}) FROM STDIN") as copy,
            ):
                for number, document in enumerate(rows, 1):
                    copy.write_row(_row(document))
                    if number % 20_000 == 0:
                        advance(20_000)
                advance(count % 20_000)
            console.print("building the GIN index…")
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute(
                "CREATE INDEX search_documents_fts_gin ON search_documents"
                " USING gin (search_vector)"
            )
        driver.commit()
        driver.autocommit = True
        driver.execute("VACUUM ANALYZE search_documents")
        driver.autocommit = False
    finally:
        raw.close()


@contextlib.contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.advance(task, done)


# -- queries --------------------------------------------------------------------------


@dataclass
class Kind:
    key: str
    label: str
    queries: list[str]
    target_ms: float | None


def query_kinds(dataset: Dataset) -> list[Kind]:
    top_first = FIRST_NAMES[:20]
    prefixes = sorted({name[:3] for name in FIRST_NAMES[:60] + LAST_NAMES[:60]})
    return [
        Kind("selective", "selective term (rare surname)", dataset.rare_surnames[:200], 10.0),
        Kind("email", "whole email address", dataset.sample_emails[:200], 10.0),
        Kind("common", "common term (frequent first name)", top_first, 50.0),
        Kind("prefix", "3-letter prefix", prefixes, 50.0),
        Kind(
            "two",
            "two tokens (first and last name)",
            [f"{first} {last}" for first, last in dataset.sample_names[:200]],
            50.0,
        ),
        Kind(
            "everywhere",
            'term in every document ("example", in every email)',
            ["example", "exam", "example com"],
            None,
        ),
    ]


def page_statement(
    session: Session, organization_id: uuid.UUID, query: str
) -> Select[uuid.UUID, str, float]:
    hits = search(session, organization_id=organization_id, kind=KIND, query=query).subquery()
    return (
        select(SearchDocument.record_id, SearchDocument.title, hits.c.rank)
        .join(
            hits,
            and_(
                hits.c.record_id == SearchDocument.record_id,
                SearchDocument.organization_id == organization_id,
                SearchDocument.kind == KIND,
            ),
        )
        .order_by(hits.c.rank, SearchDocument.record_id)
        .limit(PAGE)
    )


def count_matches(session: Session, organization_id: uuid.UUID, query: str) -> int:
    hits = search(
        session, organization_id=organization_id, kind=KIND, query=query, candidate_limit=None
    ).subquery()
    return int(session.execute(select(func.count()).select_from(hits)).scalar_one())


@dataclass
class Measured:
    kind: Kind
    timings_ms: list[float]
    matches_median: int
    cpu_ms_per_query: float  # this process + the PostgreSQL backend serving it

    def percentile(self, p: float) -> float:
        return _pct(self.timings_ms, p)


@dataclass
class Load:
    """CPU used on the machine while measuring, by whom."""

    wall: float = 0.0
    own: float = 0.0
    database: float = 0.0
    machine: float = 0.0

    @property
    def other_cores(self) -> float:
        return max(0.0, self.machine - self.own - self.database) / self.wall if self.wall else 0.0


def _process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a local process (the PostgreSQL backend serving us)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid(session: Session) -> int | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def measure(
    session: Session, organization_id: uuid.UUID, kind: Kind, repeats: int, load: Load
) -> Measured:
    queries = [kind.queries[i % len(kind.queries)] for i in range(repeats)]
    for query in kind.queries[: min(len(kind.queries), 20)]:  # warm-up
        session.execute(page_statement(session, organization_id, query)).all()
    backend = _backend_pid(session)
    timings = []
    wall, own, machine = time.perf_counter(), time.process_time(), machine_busy_seconds()
    database = _process_cpu_seconds(backend)
    for query in queries:
        started = time.perf_counter()
        session.execute(page_statement(session, organization_id, query)).all()
        timings.append((time.perf_counter() - started) * 1000)
    own = time.process_time() - own
    database = _process_cpu_seconds(backend) - database
    load.wall += time.perf_counter() - wall
    load.own += own
    load.database += database
    load.machine += machine_busy_seconds() - machine
    sample = kind.queries[:: max(1, len(kind.queries) // 15)][:15]
    counts = [count_matches(session, organization_id, query) for query in sample]
    return Measured(
        kind, timings, int(statistics.median(counts)), (own + database) * 1000 / len(queries)
    )


def measure_highlights(
    session: Session, organization_id: uuid.UUID, queries: list[str]
) -> list[float]:
    timings = []
    for query in queries:
        ids = [row[0] for row in session.execute(page_statement(session, organization_id, query))]
        started = time.perf_counter()
        highlights(session, organization_id=organization_id, kind=KIND, query=query, record_ids=ids)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


# -- report ---------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def markdown(
    results: list[Measured],
    highlight_ms: list[float],
    load: Load,
    *,
    backend: str,
    backend_detail: str,
    docs: int,
    load_seconds: float,
    size: str,
    command: str,
) -> str:
    machine = Machine.detect()
    lines = [
        f"### {backend}",
        "",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {machine.describe()}",
        f"- **Software**: {machine.python}; {code_version()}",
        f"- **Backend**: {backend_detail}",
        f"- **Dataset**: {docs:,} contact documents in 1 organization; {size}",
        f"- **Load**: {load_seconds:,.0f} s ({docs / load_seconds:,.0f} documents/s)",
        f"- **Queries**: {PAGE} rows per page, candidate_limit {DEFAULT_CANDIDATE_LIMIT:,}, "
        "one connection, warm cache",
        f"- **Command**: `{command}`",
        f"- **Other load**: processes other than the benchmark"
        f"{' and its PostgreSQL backend' if backend == 'PostgreSQL' else ''} used"
        f" {load.other_cores * 100:.0f}% of a core while it measured",
        "",
        "| query | examples | median matches | queries | p50 ms | p95 ms | p99 ms"
        " | CPU ms/query | target p95 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        examples = ", ".join(f"`{query}`" for query in result.kind.queries[:2])
        target = "—"
        if result.kind.target_ms is not None:
            met = result.percentile(95) <= result.kind.target_ms
            target = f"≤{result.kind.target_ms:g} ms {'met' if met else '**missed**'}"
        lines.append(
            f"| {result.kind.label} | {examples} | {result.matches_median:,} | "
            f"{len(result.timings_ms):,} | {result.percentile(50):.2f} | "
            f"{result.percentile(95):.2f} | {result.percentile(99):.2f} | "
            f"{result.cpu_ms_per_query:.2f} | {target} |"
        )
    lines.append(
        f"| highlights for a {PAGE}-row page (common term) | — | — | {len(highlight_ms)} | "
        f"{_pct(highlight_ms, 50):.2f} | {_pct(highlight_ms, 95):.2f} | "
        f"{_pct(highlight_ms, 99):.2f} | — | — |"
    )
    return "\n".join(lines)


def rich_table(results: list[Measured]) -> Table:
    table = Table(title="Search index")
    headings = ("query", "matches", "queries", "p50 ms", "p95 ms", "p99 ms", "CPU ms", "target")
    for heading in headings:
        table.add_column(heading, justify="left" if heading == "query" else "right")
    for result in results:
        target = "" if result.kind.target_ms is None else f"≤{result.kind.target_ms:g}"
        table.add_row(
            result.kind.label,
            f"{result.matches_median:,}",
            str(len(result.timings_ms)),
            f"{result.percentile(50):.2f}",
            f"{result.percentile(95):.2f}",
            f"{result.percentile(99):.2f}",
            f"{result.cpu_ms_per_query:.2f}",
            target,
        )
    return table


# -- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search_index",
        description="Bulk-load synthetic documents and time full-text search pages.",
    )
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents (default 1M)")
    parser.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server for a throwaway database"
    )
    parser.add_argument("--repeats", type=int, default=400, help="queries timed per kind")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"update {RESULTS_PATH.name} (default: when --docs >= {WRITE_MIN_DOCS:,})",
    )
    args = parser.parse_args(argv)
    if args.docs < 1000 or args.repeats < 1:
        parser.error("--docs must be at least 1000 and --repeats positive")
    if args.write is None:
        args.write = args.docs >= WRITE_MIN_DOCS
    return args


@contextlib.contextmanager
def database_url(args: argparse.Namespace) -> Iterator[str]:
    if args.postgres:
        with throwaway_postgres(args.postgres) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="kith-bench-search-") as folder:
        yield f"sqlite:///{Path(folder) / 'search.db'}"


def _size(engine: Engine) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
            return f"database file {pages * page_size / 2**20:,.0f} MiB"
        table, index = connection.exec_driver_sql(
            "SELECT pg_total_relation_size('search_documents'),"
            " pg_relation_size('search_documents_fts_gin')"
        ).one()
        return f"table with indexes {table / 2**20:,.0f} MiB, GIN index {index / 2**20:,.0f} MiB"


def _command(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python -m bench.search_index", f"--docs {args.docs}"]
    if args.postgres:
        from sqlalchemy import make_url

        parts.append(f"--postgres {make_url(args.postgres).render_as_string(hide_password=True)}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with database_url(args) as url:
        engine = make_engine(url)
        try:
            upgrade(Database(engine))
            backend = "PostgreSQL" if engine.dialect.name == "postgresql" else "SQLite"
            with engine.connect() as connection:
                version = connection.exec_driver_sql(
                    "SHOW server_version" if backend == "PostgreSQL" else "SELECT sqlite_version()"
                ).scalar_one()
            detail = (
                f"PostgreSQL {version} (throwaway database, default settings)"
                if backend == "PostgreSQL"
                else f"SQLite {version} (WAL, file in a temporary directory)"
            )
            organization_id = create_organization(engine)
            rows, dataset = documents(args.docs, args.seed, organization_id)
            console.print(f"{backend}: loading {args.docs:,} documents…")
            started = time.perf_counter()
            load = load_postgres if backend == "PostgreSQL" else load_sqlite
            load(engine, rows, args.docs)
            load_seconds = time.perf_counter() - started
            console.print(f"loaded in {load_seconds:,.1f} s; {_size(engine)}")
            results = []
            load_seen = Load()
            with Session(engine) as session:
                kinds = query_kinds(dataset)
                for kind in kinds:
                    console.print(f"measuring {kind.label}…")
                    results.append(measure(session, organization_id, kind, args.repeats, load_seen))
                common = next(kind for kind in kinds if kind.key == "common").queries
                highlight_ms = measure_highlights(session, organization_id, common * 10)
            console.print(rich_table(results))
            console.print(f"other load: {load_seen.other_cores * 100:.0f}% of a core")
            console.print(
                f"highlights per page: p50 {_pct(highlight_ms, 50):.2f} ms,"
                f" p95 {_pct(highlight_ms, 95):.2f} ms"
            )
            block = markdown(
                results,
                highlight_ms,
                load_seen,
                backend=backend,
                backend_detail=detail,
                docs=args.docs,
                load_seconds=load_seconds,
                size=_size(engine),
                command=_command(args),
            )
        finally:
            engine.dispose()
    if args.write:
        update_results(HEADING, INTRO, f"search:{backend.lower()}", block)
        console.print(f"updated {RESULTS_PATH}")
    else:
        console.print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
