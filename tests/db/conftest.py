"""Throwaway databases for tests that need their own (migrations, backups): a new
SQLite file, or a new database on the PostgreSQL server of KITH_TEST_DATABASE_URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from kith.db.engine import normalize_url
from tests.conftest import TEST_DATABASE_URL

NewDatabase = Callable[[], str]


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[NewDatabase]:
    """Call it to get the URL of an empty database, dropped after the test."""
    created: list[str] = []
    server = make_url(normalize_url(TEST_DATABASE_URL)) if TEST_DATABASE_URL else None
    admin = create_engine(server, isolation_level="AUTOCOMMIT") if server else None

    def make() -> str:
        if server is None or admin is None:
            return f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex[:8]}.db'}"
        name = f"{server.database or 'test'}_tmp_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        if admin is not None:
            with admin.connect() as connection:
                for name in created:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
