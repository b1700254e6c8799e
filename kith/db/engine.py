"""Engine and session factory for SQLite (WAL, foreign keys, busy timeout) and
PostgreSQL (psycopg 3 with a pool)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from kith.settings import Settings

# Connection execution option: this unit of work will write (SQLite: BEGIN IMMEDIATE).
WRITE_INTENT = "kith_write_intent"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that reads and then writes fails at once with "database is
        # locked" when another writer committed in between (SQLITE_BUSY_SNAPSHOT: the
        # busy timeout cannot help). Units of work that will write take the write lock
        # up front and wait for it; read-only ones stay deferred and run concurrently.
        immediate = conn.get_execution_options().get(WRITE_INTENT, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, settings: Settings | None = None, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms if settings else 5000)
        return engine
    kwargs.setdefault("pool_size", settings.db_pool_size if settings else 10)
    kwargs.setdefault("max_overflow", settings.db_max_overflow if settings else 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


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
