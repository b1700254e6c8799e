"""Alembic migrations match the models, run down and up again, and SQLite
connections carry the pragmas Kith depends on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from kith.db import migrate
from kith.db.base import Base
from kith.db.engine import Database, make_engine, normalize_url
from kith.model_registry import import_all_models
from kith.search.models import is_search_index_object
from kith.settings import Settings
from tests.conftest import TransactionalDatabase
from tests.db.conftest import NewDatabase


def _diff(engine: Engine) -> list[object]:
    import_all_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "render_as_batch": connection.dialect.name == "sqlite",
                # As env.py: the full-text index's backend-specific objects are not modeled.
                "include_name": lambda name, type_, parents: (
                    not is_search_index_object(name, type_, parents)
                ),
            },
        )
        return list(compare_metadata(context, Base.metadata))


def _tables(engine: Engine) -> set[str]:
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not is_search_index_object(name, "table", {})}


def test_migrations_match_the_models(engine: Engine) -> None:
    assert _diff(engine) == []
    # And every model table exists (an empty diff on an empty metadata proves nothing).
    assert {"organizations", "users", "audit_log", "outbox", "teams"} <= _tables(engine)
    assert _tables(engine) == set(Base.metadata.tables)


def test_migrated_test_database_is_at_head(engine: Engine) -> None:
    database = Database(engine)
    assert migrate.head_revision() is not None
    assert migrate.current_revision(database) == migrate.head_revision()
    assert not migrate.pending(database)


def test_downgrade_to_base_and_upgrade_to_head_on_a_fresh_database(
    new_database: NewDatabase,
) -> None:
    url = new_database()
    database = Database(make_engine(url))
    try:
        assert migrate.current_revision(database) is None
        assert migrate.pending(database)

        migrate.upgrade(database)
        assert migrate.current_revision(database) == migrate.head_revision()
        assert _tables(database.engine) == set(Base.metadata.tables)

        with database.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(url, connection), "base")
        assert migrate.current_revision(database) is None
        assert _tables(database.engine) == set()
        if database.dialect == "postgresql":
            with database.engine.connect() as connection:
                functions = connection.execute(
                    text("SELECT count(*) FROM pg_proc WHERE proname = 'kith_audit_append_only'")
                ).scalar_one()
            assert functions == 0

        migrate.upgrade(database)
        assert migrate.current_revision(database) == migrate.head_revision()
        assert _diff(database.engine) == []
    finally:
        database.dispose()


def test_upgrade_without_a_connection_uses_the_configured_url(new_database: NewDatabase) -> None:
    """The path `alembic` itself takes (env.py opening its own engine)."""
    url = new_database()
    command.upgrade(migrate.alembic_config(url), "head")
    database = Database(make_engine(url))
    try:
        assert migrate.current_revision(database) == migrate.head_revision()
    finally:
        database.dispose()


def test_sqlite_connections_have_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'nested' / 'pragmas.db'}",
        sqlite_busy_timeout_ms=1234,
    )
    engine = make_engine(settings.database_url, settings)
    try:
        assert (tmp_path / "nested").is_dir()  # the folder is created for a new file
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_the_shared_test_engine_has_the_pragmas_too(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_foreign_keys_are_enforced(db: TransactionalDatabase) -> None:
    with pytest.raises(IntegrityError), db.connection.begin_nested():
        db.connection.execute(
            text(
                "INSERT INTO teams (organization_id, id, name, description, created_at,"
                " updated_at, version) VALUES (:org, :id, 'x', '', :now, :now, 1)"
            ),
            {
                "org": _uuid_param(db, uuid.uuid4()),
                "id": _uuid_param(db, uuid.uuid4()),
                "now": "2024-01-01 00:00:00",
            },
        )


def test_savepoints_roll_back_only_their_own_work(db: TransactionalDatabase) -> None:
    """SQLite needs SQLAlchemy to own BEGIN for SAVEPOINT to work (engine.py)."""
    org = uuid.uuid4()
    insert = text(
        "INSERT INTO organizations (id, name, default_region, settings, created_at, updated_at)"
        " VALUES (:id, :name, 'US', '{}', :now, :now)"
    )
    now = "2024-01-01 00:00:00"
    db.connection.execute(insert, {"id": _uuid_param(db, org), "name": "kept", "now": now})
    savepoint = db.connection.begin_nested()
    db.connection.execute(
        insert, {"id": _uuid_param(db, uuid.uuid4()), "name": "rolled back", "now": now}
    )
    savepoint.rollback()
    names = db.connection.execute(
        text("SELECT name FROM organizations WHERE name IN ('kept', 'rolled back')")
    ).scalars()
    assert list(names) == ["kept"]


def _uuid_param(db: TransactionalDatabase, value: uuid.UUID) -> object:
    # SQLAlchemy's Uuid() is CHAR(32) hex on SQLite and native uuid on PostgreSQL.
    return value.hex if db.dialect == "sqlite" else value


def test_normalize_url_uses_psycopg3() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
