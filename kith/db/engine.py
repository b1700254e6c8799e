"""Engine and session factory for SQLite (WAL, foreign keys, busy timeout) and
PostgreSQL (psycopg 3 with a pool)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from kith.settings import Settings

# Connection execution option: this unit of work will write (SQLite: BEGIN IMMEDIATE).
WRITE_INTENT = "kith_write_intent"
# Sync endpoints and dependencies run in anyio's worker threads (40 by default), each
# request holding one connection: a smaller pool makes requests fail under load with
# "QueuePool limit ... reached" instead of waiting for a thread.
REQUEST_THREADS = 40
_HOLDS_WRITE_LOCK = "kith_holds_write_lock"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    # Writers of this process queue on a lock before BEGIN IMMEDIATE: SQLite's busy
    # handler polls with sleeps of up to 100 ms and is not first-come first-served, so
    # 32 concurrent writers would otherwise wait far longer than the writes take (and
    # some past the busy timeout). The busy timeout still covers other processes.
    write_lock = threading.Lock()
    wait_seconds = busy_timeout_ms / 1000

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling breaks
        # SAVEPOINT); see the SQLAlchemy "Serializable isolation / Savepoints" recipe.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def _release(conn: Any) -> None:
        if conn.info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that reads and then writes fails at once with "database is
        # locked" when another writer committed in between (SQLITE_BUSY_SNAPSHOT: the
        # busy timeout cannot help). Units of work that will write take the write lock
        # up front and wait for it; read-only ones stay deferred and run concurrently.
        if not conn.get_execution_options().get(WRITE_INTENT, False):
            conn.exec_driver_sql("BEGIN")
            return
        # On a timeout go on: BEGIN IMMEDIATE then waits the busy timeout and fails.
        if write_lock.acquire(timeout=wait_seconds):
            conn.info[_HOLDS_WRITE_LOCK] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    # Released just before COMMIT/ROLLBACK runs: the next writer's BEGIN IMMEDIATE may
    # wait that long in the busy handler, which is short.
    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_HOLDS_WRITE_LOCK, False):  # e.g. a connection invalidated
            write_lock.release()


def make_engine(url: str, settings: Settings | None = None, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        if database and database != ":memory:":
            _size_pool(kwargs, settings)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms if settings else 5000)
        return engine
    _size_pool(kwargs, settings)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _size_pool(kwargs: dict[str, Any], settings: Settings | None) -> None:
    """``pool_size`` + ``max_overflow`` ≥ the request threads, so a request waits for a
    thread rather than timing out on a connection."""
    size = settings.db_pool_size if settings else 10
    overflow = settings.db_max_overflow if settings else 20
    kwargs.setdefault("pool_size", size)
    kwargs.setdefault("max_overflow", max(overflow, REQUEST_THREADS - size))


class Database:
    """The engine and the session factory one app (or CLI run) works with."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(make_engine(settings.database_url, settings))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool = False) -> Session:
        """A new session. ``write``: the unit of work will write; on SQLite it then
        takes the write lock when it starts (waiting up to the busy timeout), so a
        read-modify-write cannot fail on a concurrent commit."""
        session = self.sessionmaker()
        if write:
            try:
                session.connection(execution_options={WRITE_INTENT: True})
            except BaseException:
                session.close()
                raise
        return session

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error. Pass ``write=True``
        when it reads and then writes (see :meth:`session`)."""
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
