"""Test harness every domain reuses.

- The database is real: a SQLite file, or a fresh PostgreSQL database created on
  the server named by ``KITH_TEST_DATABASE_URL`` (dropped at the end), migrated
  with the real Alembic migrations.
- Each test runs inside one outer transaction that is rolled back afterwards;
  every session the app opens (request sessions, idempotency records, CLI-style
  ``Database.transaction()``) joins it through a SAVEPOINT.
- ``KITH_TEST_REDIS_URL`` makes rate limits use real Redis.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import sessionmaker

from kith.app import configure_crypto, create_app
from kith.db.engine import Database, make_engine, normalize_url
from kith.db.migrate import upgrade
from kith.jobs.queue import make_huey
from kith.runtime import Runtime
from kith.settings import Settings
from tests.factories import Factory
from tests.jobs.sample_jobs import StepEffect

TEST_DATABASE_URL = os.environ.get("KITH_TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("KITH_TEST_REDIS_URL") or None

TEST_KEYS = {
    "old": base64.b64encode(b"o" * 32).decode(),
    "t1": base64.b64encode(b"k" * 32).decode(),
}


def pytest_report_header() -> list[str]:
    backend = "postgresql" if TEST_DATABASE_URL else "sqlite"
    return [f"kith: database={backend} redis={'yes' if TEST_REDIS_URL else 'no'}"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'kith-test.db'}"
        return
    server = make_url(normalize_url(TEST_DATABASE_URL))
    name = f"{server.database or 'test'}_kith_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "secret_key": "s" * 48,
        "encryption_keys": json.dumps(TEST_KEYS),
        "blind_index_key": "b" * 32,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 64,
        "rate_limit": "100000/minute",
        "redis_url": TEST_REDIS_URL,
        "log_level": "WARNING",
        "base_url": "http://testserver",
        "embedded_worker": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(database_url, tmp_path_factory.mktemp("data"))
    configure_crypto(settings)
    return settings


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url, settings)
    upgrade(Database(engine))
    yield engine
    engine.dispose()


class TransactionalDatabase(Database):
    """A Database whose sessions all join one connection's outer transaction."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        super().__init__(engine)
        self.connection = connection
        self.sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def dispose(self) -> None:  # the session-wide engine outlives a test
        pass


@pytest.fixture
def db(engine: Engine, settings: Settings) -> Iterator[TransactionalDatabase]:
    configure_crypto(settings)
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield TransactionalDatabase(engine, connection)
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def app(db: TransactionalDatabase, settings: Settings) -> FastAPI:
    return create_app(settings, database=db, key_prefix=f"kith-test-{uuid.uuid4().hex}")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def factory(db: TransactionalDatabase, settings: Settings) -> Factory:
    return Factory(db, settings)


@pytest.fixture(scope="session")
def template_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database that each ``live_database`` is copied from."""
    if not TEST_DATABASE_URL:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
        engine = make_engine(url)
        upgrade(Database(engine))
        engine.dispose()
        yield url
        return
    server = make_url(normalize_url(TEST_DATABASE_URL))
    name = f"{server.database or 'test'}_kith_tpl_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(Database(engine))
    engine.dispose()  # a template must have no connections when copied
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def live_database_url(template_database_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of this test's own, where commits are real: for
    workers, the dispatcher and subprocesses, which cannot share one transaction."""
    if not TEST_DATABASE_URL:
        source = make_url(template_database_url).database
        target = tmp_path / "live.db"
        shutil.copyfile(str(source), target)
        yield f"sqlite:///{target}"
        return
    server = make_url(template_database_url)
    name = f"{server.database}_live_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{server.database}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def live_settings(live_database_url: str, tmp_path: Path) -> Settings:
    settings = make_settings(live_database_url, tmp_path / "data")
    configure_crypto(settings)
    return settings


@pytest.fixture
def live_database(live_settings: Settings) -> Iterator[Database]:
    database = Database.from_settings(live_settings)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def queue_settings(live_settings: Settings) -> Settings:
    # Each test gets its own Huey queue (a Redis key prefix, or a SQLite file).
    live_settings.queue_name = f"kith-test-{uuid.uuid4().hex[:10]}"
    return live_settings


@pytest.fixture
def runtime_factory(
    queue_settings: Settings, live_database: Database
) -> Iterator[Callable[..., Runtime]]:
    StepEffect.__table__.create(live_database.engine, checkfirst=True)
    started: list[Runtime] = []

    def start(workers: int = 2, **kwargs: Any) -> Runtime:
        runtime = Runtime(queue_settings, live_database, huey=make_huey(queue_settings), **kwargs)
        # Periodic tasks off: tests run the reaper themselves, deterministically.
        runtime.start_embedded(workers=workers, periodic=False)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()
        runtime.queue.huey.flush()


@pytest.fixture
def is_postgres() -> bool:
    return bool(TEST_DATABASE_URL)
