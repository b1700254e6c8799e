"""Bulk loading of generated contacts (:mod:`bench.contacts_data`) straight into Kith's
tables: SQLite ``executemany`` on the DB-API connection, PostgreSQL ``COPY`` through
psycopg. By default secondary indexes, the FTS5 triggers and (PostgreSQL) foreign keys
are dropped during the load and rebuilt at the end, and the tables nothing references
(emails, phones, tags, search documents, blocking keys) are written without their
primary key (PostgreSQL) or into temporary staging tables moved in key order at the end
(SQLite): their keys start with random contact ids, and inserting those into a growing
B-tree touches pages all over it.

Rows are what the contacts service writes for a create — ``contacts``,
``contact_emails``, ``contact_phones``, ``contact_tags``, the search document of
:mod:`kith.contacts.search_index`, the dedupe blocking keys (when that package is there)
— plus the companies and their domains; no audit entries, status-change rows or outbox
events.
Rebuilding the indexes at the end is much faster than maintaining them row by row (the
full-text index most of all: one FTS5 ``'rebuild'``, one GIN build), but until it is
done the tables are not fully usable: load while Kith is not serving the database.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text

from bench.contacts_data import (
    BATCH_SIZE,
    COLUMNS,
    Company,
    Dataset,
    Generator,
    company_count,
    make_companies,
)

SQLITE_COMMIT_EVERY = 200_000
# Tables nothing references: staged (SQLite) or loaded without their primary key, which
# is added at the end (PostgreSQL).
STAGED_TABLES = (
    "contact_emails",
    "contact_phones",
    "contact_tags",
    "search_documents",
    "contact_blocking_keys",
)
SQLITE_CACHE_KIB = 2_000_000  # the loading connection's page cache (2 GB)
DEFAULT_OWNERS = 8


@dataclass
class LoadReport:
    """How long each part took (seconds) and how many rows each table got."""

    contacts: int
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    @property
    def rate(self) -> float:
        return self.contacts / self.seconds if self.seconds else 0.0

    def breakdown(self) -> str:
        parts = [f"{name} {seconds:,.1f} s" for name, seconds in self.stages.items()]
        return ", ".join(parts)


@contextlib.contextmanager
def _timed(report: LoadReport, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.add(stage, time.perf_counter() - started)


LOADED_TABLES = (
    "contacts",
    "contact_emails",
    "contact_phones",
    "contact_tags",
    "search_documents",
    "contact_blocking_keys",
    "companies",
    "company_domains",
)


def _company_rows(
    companies: list[Company], organization_id: uuid.UUID, postgres: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    def stamp(moment: datetime) -> str:
        text = (
            moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
        return f"{text}+00" if postgres else text

    org = organization_id.hex
    rows, domains = [], []
    for c in companies:
        created = stamp(c.created_at)
        rows.append(
            (org, c.id.hex, 1, created, created, c.name, " ".join(c.name.casefold().split()),
             c.domain, c.industry, c.size, "{}")
        )  # fmt: skip
        domains.append((org, c.domain, c.id.hex))
    return rows, domains


COMPANY_COLUMNS = (
    "organization_id", "id", "version", "created_at", "updated_at", "name", "name_key",
    "domain", "industry", "size", "links",
)  # fmt: skip
COMPANY_DOMAIN_COLUMNS = ("organization_id", "domain", "company_id")


class _SqliteLoader:
    """executemany on the DB-API connection, in transactions of SQLITE_COMMIT_EVERY."""

    def __init__(
        self, engine: Engine, report: LoadReport, rebuild: bool, *, throwaway: bool = False
    ) -> None:
        self.raw = engine.raw_connection()
        self.db: Any = self.raw.driver_connection
        self.report = report
        self.rebuild = rebuild
        self.throwaway = throwaway
        self.journal_mode = ""
        self.dropped: list[tuple[str, str]] = []  # (type, CREATE statement) to run again
        self.staged: list[str] = []  # tables written to temp.stage_<table> first
        self.doc_base = 0
        # Few large transactions: each commit writes every page the batch touched
        # (random ids touch pages all over the primary-key indexes) to the WAL.
        self.commit_every = SQLITE_COMMIT_EVERY

    def start(self) -> None:
        db = self.db
        db.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        db.execute("PRAGMA temp_store = MEMORY")
        if self.throwaway:
            # A database made for a benchmark: a crash during the load may lose it.
            self.journal_mode = db.execute("PRAGMA journal_mode").fetchall()[0][0]
            db.execute("PRAGMA journal_mode = OFF").fetchall()
            db.execute("PRAGMA synchronous = OFF")
            self.commit_every = 1 << 62  # one transaction
        top = db.execute("SELECT coalesce(max(doc_id), 0) FROM search_documents").fetchall()
        self.doc_base = int(top[0][0])
        if not self.rebuild:
            return
        tables = ",".join(f"'{t}'" for t in LOADED_TABLES)
        rows = db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            f" AND type IN ('index', 'trigger') AND tbl_name IN ({tables})"
        ).fetchall()
        db.execute("BEGIN")
        for kind, name, sql in rows:
            db.execute(f'DROP {kind.upper()} "{name}"')
            self.dropped.append((kind, sql))
        db.execute("COMMIT")
        # Child tables are staged in temporary tables without any index and moved in
        # primary-key order at the end: inserting random contact ids into their
        # primary-key indexes batch by batch rewrites pages all over them (and the WAL).
        db.execute(f"PRAGMA temp.cache_size = -{SQLITE_CACHE_KIB}")
        for table in STAGED_TABLES:
            db.execute(f"CREATE TEMP TABLE stage_{table} AS SELECT * FROM main.{table} WHERE 0")
            self.staged.append(table)

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if table == "search_documents" and self.doc_base:
            rows = [(*row[:-1], row[-1] + self.doc_base) for row in rows]
        marks = ", ".join("?" * len(columns))
        target = f"temp.stage_{table}" if table in self.staged else table
        with _timed(self.report, f"insert {table}"):
            self.db.executemany(
                f"INSERT INTO {target} ({', '.join(columns)}) VALUES ({marks})", rows
            )
        self.report.rows[table] += len(rows)

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        with _timed(self.report, "commit"):
            self.db.execute("COMMIT")

    def finish(self) -> None:
        db = self.db
        for table in list(self.staged):
            key = [
                row[1]
                for row in sorted(
                    db.execute(f"PRAGMA main.table_info({table})"), key=lambda r: r[5]
                )
                if row[5]
            ]
            with _timed(self.report, f"move {table} in key order"):
                db.execute("BEGIN")
                db.execute(
                    f"INSERT INTO main.{table} SELECT * FROM temp.stage_{table}"
                    f" ORDER BY {', '.join(key)}"
                )
                db.execute(f"DROP TABLE temp.stage_{table}")
                db.execute("COMMIT")
            self.staged.remove(table)
        indexes = [sql for kind, sql in self.dropped if kind == "index"]
        triggers = [sql for kind, sql in self.dropped if kind == "trigger"]
        if indexes:
            with _timed(self.report, "create indexes"):
                db.execute("BEGIN")
                for sql in indexes:
                    db.execute(sql)
                db.execute("COMMIT")
        if triggers:
            # The full-text index in one pass over search_documents, then its triggers.
            with _timed(self.report, "full-text index (FTS5 rebuild)"):
                db.execute("BEGIN")
                db.execute(
                    "INSERT INTO search_documents_fts (search_documents_fts) VALUES ('rebuild')"
                )
                for sql in triggers:
                    db.execute(sql)
                db.execute("COMMIT")
        self.dropped = []
        with _timed(self.report, "analyze"):
            db.execute("ANALYZE")
        if self.journal_mode:  # nothing went through the WAL
            db.execute(f"PRAGMA journal_mode = {self.journal_mode}").fetchall()
            db.execute("PRAGMA synchronous = NORMAL")  # as kith.db.engine sets it
            self.journal_mode = ""
            return
        with _timed(self.report, "checkpoint"):
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def abort(self) -> None:
        """Put back what was dropped (after a failure), best effort."""
        with contextlib.suppress(Exception):
            self.db.execute("ROLLBACK")
        self.staged = []
        if self.dropped:
            with contextlib.suppress(Exception):
                self.finish()

    def close(self) -> None:
        self.raw.close()


class _PostgresLoader:
    """COPY on the psycopg connection, one transaction per batch."""

    def __init__(self, engine: Engine, report: LoadReport, rebuild: bool) -> None:
        self.raw = engine.raw_connection()
        self.db: Any = self.raw.driver_connection
        self.report = report
        self.rebuild = rebuild
        self.dropped: list[tuple[str, str]] = []  # (kind, statement to run again)
        self.commit_every = BATCH_SIZE

    def start(self) -> None:
        db = self.db
        if not self.rebuild:
            return
        tables = list(LOADED_TABLES)
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)"
                " AND conrelid::regclass::text <> 'companies'",
                (tables,),
            )
            foreign = cursor.fetchall()
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i"
                " WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                "   WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))",
                (tables,),
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text = ANY(%s)",
                (list(STAGED_TABLES),),
            )
            primary = cursor.fetchall()
            for table, name, definition in foreign:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                self.dropped.append(
                    ("foreign keys", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                )
            for name, definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
                self.dropped.append(("indexes", definition))
            # Tables nothing references get their primary key back at the end (a sorted
            # build instead of random inserts into a growing B-tree).
            for table, name, definition in primary:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                self.dropped.append(
                    ("primary keys", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                )
        db.commit()

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if table == "search_documents":  # doc_id comes from the identity
            columns = columns[:-1]
            rows = [row[:-1] for row in rows]
        with (
            _timed(self.report, f"copy {table}"),
            self.db.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        self.report.rows[table] += len(rows)

    def begin(self) -> None:
        pass

    def commit(self) -> None:
        with _timed(self.report, "commit"):
            self.db.commit()

    def finish(self) -> None:
        db = self.db
        with db.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            for kind in ("primary keys", "indexes", "foreign keys"):
                statements = [sql for k, sql in self.dropped if k == kind]
                if not statements:
                    continue
                with _timed(self.report, f"create {kind}"):
                    for sql in statements:
                        cursor.execute(sql)
                    db.commit()
        self.dropped = []
        with _timed(self.report, "vacuum analyze"):
            db.autocommit = True
            try:
                for table in LOADED_TABLES:
                    db.execute(f"VACUUM ANALYZE {table}")
            finally:
                db.autocommit = False

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.db.rollback()
        if self.dropped:
            with contextlib.suppress(Exception):
                self.finish()

    def close(self) -> None:
        self.raw.close()


def load_contacts(
    engine: Engine,
    organization_id: uuid.UUID,
    count: int,
    *,
    owner_ids: Sequence[uuid.UUID],
    seed: int = 20261123,
    rebuild_indexes: bool = True,
    blocking_keys: bool | None = None,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    parallel: bool = True,
    processes: int | None = None,
    throwaway: bool = False,
) -> tuple[LoadReport, Dataset]:
    """Generate ``count`` contacts (and their companies) into ``organization_id`` of the
    database behind ``engine``; the keyring of :mod:`kith.crypto` must be configured.
    ``progress`` is called with the number of contacts written after each batch. With
    ``parallel`` the rows are generated by ``processes`` forked processes (default: one
    per core) while this one writes. ``throwaway``: the database may be lost if the
    machine stops during the load (SQLite without journal and fsync) — only for a
    database made for a benchmark.
    ``blocking_keys`` (default: when kith.contacts.dedupe is there) also fills the dedupe
    blocking-key index, which the fuzzy duplicate check on create looks candidates up in."""
    dialect = engine.dialect.name
    postgres = dialect == "postgresql"
    report = LoadReport(count)
    started = time.perf_counter()
    existing, used_emails, taken = _existing(engine, organization_id)
    now = now or datetime.now(UTC)
    seed += existing  # another run into the same organization makes other people
    companies = [
        company
        for company in make_companies(company_count(count), seed, now)
        if company.domain not in taken and company.name.casefold() not in taken
    ]
    if blocking_keys is None:
        blocking_keys = _blocking_key_function() is not None
    block = _blocking_key_function() if blocking_keys else None
    if blocking_keys and block is None:
        raise RuntimeError("blocking keys need kith.contacts.dedupe, which is not importable")
    generator = Generator(
        count,
        organization_id=organization_id,
        owner_ids=owner_ids,
        dialect=dialect,
        seed=seed,
        start=existing,
        now=now,
        companies=companies,
        used_emails=used_emails,
        blocking_keys=block,
    )
    loader: _SqliteLoader | _PostgresLoader = (
        _PostgresLoader(engine, report, rebuild_indexes)
        if postgres
        else _SqliteLoader(engine, report, rebuild_indexes, throwaway=throwaway)
    )
    workers = (processes or os.cpu_count() or 1) if parallel else 1
    try:
        with _timed(report, "drop indexes"):
            loader.start()
        company_rows, domains = _company_rows(generator.companies, organization_id, postgres)
        loader.begin()
        loader.write("companies", COMPANY_COLUMNS, company_rows)
        loader.write("company_domains", COMPANY_DOMAIN_COLUMNS, domains)
        done = pending = 0
        batches = generator.batches(processes=workers)
        while True:
            with _timed(report, "wait for the generator"):
                batch = next(batches, None)
            if batch is None:
                break
            for table, rows in batch.tables():
                loader.write(table, COLUMNS[table], rows)
            done += len(batch.contacts)
            pending += len(batch.contacts)
            if pending >= loader.commit_every:
                loader.commit()
                loader.begin()
                pending = 0
            if progress is not None:
                progress(done)
        loader.commit()
        dataset = generator.dataset
        loader.finish()
    except BaseException:
        loader.abort()
        raise
    finally:
        loader.close()
    report.seconds = time.perf_counter() - started
    return report, dataset


def _existing(engine: Engine, organization_id: uuid.UUID) -> tuple[int, set[str], set[str]]:
    """Contacts the organization has, their emails (new ones must differ), and the
    domains and case-folded names of its companies (new companies must differ)."""
    key = organization_id.hex if engine.dialect.name == "sqlite" else organization_id
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM contacts WHERE organization_id = :org"), {"org": key}
        ).scalar_one()
        if not count:
            return 0, set(), set()
        emails = connection.execute(
            text("SELECT email FROM contact_emails WHERE organization_id = :org"), {"org": key}
        ).scalars()
        used = set(emails)
        taken: set[str] = set()
        for name, domain in connection.execute(
            text("SELECT name, domain FROM companies WHERE organization_id = :org"), {"org": key}
        ):
            taken.update((name.casefold(), domain or ""))
    return int(count), used, taken


def _blocking_key_function() -> Callable[[dict[str, Any]], list[str]] | None:
    """The dedupe blocking keys of a record (as the contacts service indexes them on
    create), or None without the dedupe package."""
    try:
        from kith.contacts.dedupe.blocking import blocking_keys
        from kith.contacts.dedupe.record import MatchRecord
    except ImportError:
        return None

    def keys(record: dict[str, Any]) -> list[str]:
        return blocking_keys(MatchRecord(**record))

    return keys


def ensure_owners(engine: Engine, organization_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """Active members of the organization to own contacts: the existing ones, plus
    SALES_REP users without a password (they can be invited later) up to ``count``."""
    from sqlalchemy.orm import Session

    from kith.auth.models import Membership, MembershipStatus, User
    from kith.auth.roles import Role

    with Session(engine) as session, session.begin():
        owners = list(
            session.execute(
                select(Membership.user_id)
                .where(
                    Membership.organization_id == organization_id,
                    Membership.status == MembershipStatus.ACTIVE,
                )
                .order_by(Membership.created_at, Membership.user_id)
            ).scalars()
        )
        for n in range(len(owners), count):
            user = User(
                email=f"rep{n}.{organization_id.hex[:12]}@bench.kith.example",
                name=f"Bench Rep {n}",
                password_hash=None,
            )
            session.add(user)
            session.flush()
            session.add(
                Membership(organization_id=organization_id, user_id=user.id, role=Role.SALES_REP)
            )
            owners.append(user.id)
        return owners


# -- the benchmark: python -m bench.contacts_load ------------------------------------------

HEADING = "Generating contacts"
INTRO = """\
How fast `kith bench generate --contacts N` fills a database: `python -m bench.contacts_load`
generates N contacts with `bench/contacts_data.py` (in forked worker processes, one per
core, while the main process writes) into a throwaway, migrated database — every row the
contacts service would write for a create: contacts, emails, phones (encrypted, with the
blind index), tags, search documents, dedupe blocking keys — plus companies and their
domains; SQLite `executemany` (journal and fsync off for this throwaway file), PostgreSQL
`COPY`, indexes dropped during the load and built at the end (included in the time).
Rows/s counts the rows of every table. Target (issue 8): ≥100,000 rows/s."""


def _parse(argv: list[str] | None) -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.contacts_load", description=INTRO)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--postgres", help="PostgreSQL server URL (a throwaway database)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--processes", type=int, default=None, help="generator processes")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="update bench/RESULTS.md (default: with --contacts of 100,000 or more)",
    )
    args = parser.parse_args(argv)
    if args.write is None:
        args.write = args.contacts >= 100_000
    return args


def main(argv: list[str] | None = None) -> int:
    import tempfile
    from pathlib import Path

    from bench.harness import Machine, code_version, machine_busy_seconds, throwaway_postgres
    from bench.report import update_results
    from kith import crypto
    from kith.db.engine import Database, make_engine
    from kith.db.migrate import upgrade

    args = _parse(argv)
    crypto.configure(crypto.Keyring({"bench": os.urandom(32)}, os.urandom(32)))
    with contextlib.ExitStack() as stack:
        if args.postgres:
            url = stack.enter_context(throwaway_postgres(args.postgres))
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="kith-bench-gen-"))
            url = f"sqlite:///{Path(folder) / 'generate.db'}"
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(Database(engine))
        organization_id = uuid.UUID(int=uuid.UUID(bytes=args.seed.to_bytes(16, "big")).int)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organizations (id, name, default_region, settings,"
                    " created_at, updated_at) VALUES (:id, 'Bench', 'US', '{}', :now, :now)"
                ).bindparams(id=organization_id, now=datetime.now(UTC).replace(tzinfo=None))
            )
            version = connection.exec_driver_sql(
                "SHOW server_version" if args.postgres else "SELECT sqlite_version()"
            ).scalar_one()
        owners = ensure_owners(engine, organization_id, DEFAULT_OWNERS)
        busy, cpu = machine_busy_seconds(), time.process_time()
        children = os.times()
        report, _ = load_contacts(
            engine,
            organization_id,
            args.contacts,
            owner_ids=owners,
            seed=args.seed,
            processes=args.processes,
            throwaway=True,
        )
        after = os.times()
        workers = (after.children_user + after.children_system) - (
            children.children_user + children.children_system
        )
        own = time.process_time() - cpu
        busy = machine_busy_seconds() - busy
    backend = "postgresql" if args.postgres else "sqlite"
    rows = sum(report.rows.values())
    rate = rows / report.seconds
    target = "met" if rate >= 100_000 else "**missed**"
    others = max(0.0, busy - own - workers) / report.seconds
    machine = Machine.detect().describe()
    command = f".venv/bin/python -m bench.contacts_load --contacts {args.contacts}"
    if args.postgres:
        command += " --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test"
    block = "\n".join(
        [
            f"### {'PostgreSQL' if args.postgres else 'SQLite'}",
            "",
            f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- **Machine**: {machine}",
            f"- **Software**: {code_version()}",
            f"- **Backend**: {'PostgreSQL' if args.postgres else 'SQLite'} {version}"
            + ("" if args.postgres else " (journal_mode=OFF, synchronous=OFF during the load)"),
            f"- **Dataset**: {args.contacts:,} contacts in 1 organization; "
            + ", ".join(f"{table} {count:,}" for table, count in report.rows.items()),
            f"- **Command**: `{command}`",
            f"- **Other load**: processes other than this benchmark (and its workers"
            f"{' and PostgreSQL' if args.postgres else ''}) used about "
            f"{others * 100:.0f}% of a core"
            + (" (PostgreSQL's own CPU counted there)" if args.postgres else ""),
            "",
            f"**{rows:,} rows in {report.seconds:,.1f} s: {rate:,.0f} rows/s** "
            f"({report.rate:,.0f} contacts/s) — target ≥100,000 rows/s {target}. "
            f"CPU: main process {own:,.1f} s, generator workers {workers:,.1f} s.",
            "",
            f"Time by stage (the main process; the workers generate meanwhile): "
            f"{report.breakdown()}.",
        ]
    )
    print(block)
    if args.write:
        update_results(HEADING, INTRO, f"generate:{backend}", block)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
