"""Units of work on SQLite: writers take the lock up front (so a read-modify-write
never fails on a concurrent commit), readers stay concurrent. Each test uses its own
SQLite file, so it runs the same on both passes of the suite; the pool-size test uses
the suite's database server on the PostgreSQL pass."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.requests import Request

from kith.db.engine import REQUEST_THREADS, Database, make_engine
from kith.db.session import get_session
from kith.settings import Settings
from tests.conftest import TEST_DATABASE_URL

BUSY_TIMEOUT_MS = 300


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'engine.db'}",
        sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS,
    )
    database = Database(make_engine(settings.database_url, settings))
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    yield database
    database.dispose()


def _value(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT n FROM counter")).scalar_one())


def test_concurrent_read_modify_write_units_all_succeed(tmp_path: Path) -> None:
    # The default busy timeout (5 s): writers queue for the lock instead of failing.
    database = Database(make_engine(f"sqlite:///{tmp_path / 'counter.db'}"))
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    errors: list[BaseException] = []

    def increment(times: int) -> None:
        for _ in range(times):
            try:
                with database.transaction(write=True) as session:
                    n = session.execute(text("SELECT n FROM counter")).scalar_one()
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=increment, args=(25,)) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert _value(database) == 200  # no lost update either
    finally:
        database.dispose()


def test_a_write_unit_holds_the_lock_from_its_start(sqlite_db: Database) -> None:
    with sqlite_db.transaction(write=True) as first:
        first.execute(text("SELECT n FROM counter")).scalar_one()  # read only, so far
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), sqlite_db.transaction(write=True):
            pass
        # It waited for the busy timeout instead of failing at once.
        assert time.monotonic() - started >= BUSY_TIMEOUT_MS / 1000 * 0.9


def test_readers_are_not_blocked_by_a_writer(sqlite_db: Database) -> None:
    with sqlite_db.transaction(write=True) as writer:
        writer.execute(text("UPDATE counter SET n = 41"))
        started = time.monotonic()
        with sqlite_db.transaction() as reader:
            # WAL: the reader sees the last committed value, without waiting.
            assert reader.execute(text("SELECT n FROM counter")).scalar_one() == 0
        assert time.monotonic() - started < BUSY_TIMEOUT_MS / 1000 / 2
    assert _value(sqlite_db) == 41


def test_a_failed_unit_of_work_rolls_back(sqlite_db: Database) -> None:
    def failing_update() -> None:
        with sqlite_db.transaction(write=True) as session:
            session.execute(text("UPDATE counter SET n = 99"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_update()
    assert _value(sqlite_db) == 0


def _request_session(database: Database, method: str) -> AsyncIterator[Session]:
    app = SimpleNamespace(state=SimpleNamespace(database=database))
    return get_session(Request({"type": "http", "method": method, "app": app, "headers": []}))


@pytest.mark.parametrize(("method", "writes"), [("POST", True), ("PATCH", True), ("GET", False)])
def test_request_sessions_of_unsafe_methods_take_the_write_lock(
    sqlite_db: Database, method: str, writes: bool
) -> None:
    async def request() -> None:
        sessions = _request_session(sqlite_db, method)
        session = await anext(sessions)
        try:
            session.execute(text("SELECT n FROM counter")).scalar_one()
            if writes:
                with (
                    pytest.raises(OperationalError, match="locked"),
                    sqlite_db.transaction(write=True),
                ):
                    pass
            else:
                with sqlite_db.transaction(write=True) as other:
                    other.execute(text("UPDATE counter SET n = 1"))
        finally:
            await sessions.aclose()

    asyncio.run(request())


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_request_session_commits_when_the_endpoint_returns(
    sqlite_db: Database, method: str
) -> None:
    async def request() -> None:
        sessions = _request_session(sqlite_db, method)
        session = await anext(sessions)
        session.execute(text("UPDATE counter SET n = 7"))
        with pytest.raises(StopAsyncIteration):
            await anext(sessions)

    asyncio.run(request())
    assert _value(sqlite_db) == 7


def test_every_request_thread_gets_a_connection_at_once(tmp_path: Path) -> None:
    # Sync endpoints run in anyio's worker threads, each holding a connection for the
    # request: with fewer connections than threads, requests under load failed with
    # "QueuePool limit ... reached" (bench/RESULTS.md, 32 clients) instead of queueing.
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'pool.db'}"
    settings = Settings(env="test", data_dir=tmp_path, database_url=url)
    engine = make_engine(url, settings, pool_timeout=2)
    holding = threading.Barrier(REQUEST_THREADS, timeout=20)
    errors: list[BaseException] = []

    def request() -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                holding.wait()  # every thread holds its connection at the same time
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(REQUEST_THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    finally:
        engine.dispose()


def test_32_concurrent_writers_queue_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    # The benchmark's 32 clients writing at once: each unit waits its turn in this
    # process (not in SQLite's polling busy handler, where some lost every round until
    # the busy timeout and failed with "database is locked").
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'writers.db'}",
        sqlite_busy_timeout_ms=3000,
    )
    database = Database(make_engine(settings.database_url, settings))
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    errors: list[BaseException] = []

    def write(times: int) -> None:
        for _ in range(times):
            try:
                with database.transaction(write=True) as session:
                    n = session.execute(text("SELECT n FROM counter")).scalar_one()
                    time.sleep(0.002)  # a request's work between its read and its write
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(10,)) for _ in range(32)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert _value(database) == 320
    finally:
        database.dispose()
