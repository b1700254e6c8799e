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
import multiprocessing
import time
import traceback
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
    Batch,
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

    def __init__(self, engine: Engine, report: LoadReport, rebuild: bool) -> None:
        self.raw = engine.raw_connection()
        self.db: Any = self.raw.driver_connection
        self.report = report
        self.rebuild = rebuild
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
        self.doc_base = db.execute("SELECT coalesce(max(doc_id), 0) FROM search_documents")
        self.doc_base = int(self.doc_base.fetchone()[0])
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
) -> tuple[LoadReport, Dataset]:
    """Generate ``count`` contacts (and their companies) into ``organization_id`` of the
    database behind ``engine``; the keyring of :mod:`kith.crypto` must be configured.
    ``progress`` is called with the number of contacts written after each batch. With
    ``parallel`` the rows are generated in a forked process while this one writes.
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
        else _SqliteLoader(engine, report, rebuild_indexes)
    )
    try:
        with _timed(report, "drop indexes"):
            loader.start()
        companies, domains = _company_rows(generator.companies, organization_id, postgres)
        loader.begin()
        loader.write("companies", COMPANY_COLUMNS, companies)
        loader.write("company_domains", COMPANY_DOMAIN_COLUMNS, domains)
        done = pending = 0
        with _BatchSource(generator, parallel) as batches:
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
        assert batches.dataset is not None
        dataset = batches.dataset
        report.add("generate (in a second process)" if parallel else "generate", batches.seconds)
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


class _BatchSource:
    """The generator's batches, made inline or in a forked process (so generating the
    next batch overlaps with writing this one); ``dataset`` and ``seconds`` (time spent
    generating) are set once the batches are exhausted."""

    def __init__(self, generator: Generator, parallel: bool) -> None:
        self.generator = generator
        self.dataset: Dataset | None = None
        self.seconds = 0.0
        self.process: Any = None
        self.queue: Any = None
        self.inline: Iterator[Batch] | None = None
        if parallel and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self.queue = context.Queue(maxsize=3)
            self.process = context.Process(
                target=_produce, args=(generator, self.queue), daemon=True
            )
        else:
            self.inline = generator.batches()

    def __enter__(self) -> _BatchSource:
        if self.process is not None:
            self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(5)

    def __iter__(self) -> _BatchSource:
        return self

    def __next__(self) -> Batch:
        if self.inline is not None:
            started = time.perf_counter()
            try:
                return next(self.inline)
            except StopIteration:
                self.dataset = self.generator.dataset
                raise
            finally:
                self.seconds += time.perf_counter() - started
        kind, value = self.queue.get()
        if kind == "batch":
            return value  # type: ignore[no-any-return]
        if kind == "done":
            self.dataset, self.seconds = value
            self.process.join(30)
            raise StopIteration
        raise RuntimeError(f"the contacts generator failed:\n{value}")


def _produce(generator: Generator, queue: Any) -> None:
    started = time.perf_counter()
    waited = 0.0
    try:
        for batch in generator.batches():
            put = time.perf_counter()
            queue.put(("batch", batch))
            waited += time.perf_counter() - put
        queue.put(("done", (generator.dataset, time.perf_counter() - started - waited)))
    except BaseException:
        queue.put(("error", traceback.format_exc()))


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
