"""`kith.db.migrate.backup`/`restore` round-trips: the SQLite online backup API and,
on PostgreSQL, pg_dump/pg_restore. Each test works on its own throwaway database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kith.audit.models import AuditEntry
from kith.auth.models import Organization
from kith.db import migrate
from kith.db.engine import Database, make_engine
from tests.conftest import TEST_DATABASE_URL
from tests.db.conftest import NewDatabase


@pytest.fixture
def database(new_database: NewDatabase) -> Iterator[Database]:
    database = Database(make_engine(new_database()))
    migrate.upgrade(database)
    yield database
    database.dispose()


def _add_organization(database: Database, name: str) -> uuid.UUID:
    with database.transaction() as session:
        org = Organization(name=name)
        session.add(org)
        session.flush()
        session.add(
            AuditEntry(
                organization_id=org.id,
                actor_type="system",
                action="organization.created",
                entity_type="organization",
                entity_id=str(org.id),
                changes={"name": [None, name]},
            )
        )
        return org.id


def _name_of(database: Database, org_id: uuid.UUID) -> str | None:
    with database.transaction() as session:
        org = session.get(Organization, org_id)
        return None if org is None else org.name


def _round_trip(database: Database, target: Path) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    org_id = _add_organization(database, "Before backup")

    assert migrate.backup(url, target) == target
    assert target.exists()
    assert target.stat().st_size > 0

    # Changes after the backup: a rename and a whole new organization.
    with database.transaction() as session:
        org = session.get(Organization, org_id)
        assert org is not None
        org.name = "Changed after backup"
    later_id = _add_organization(database, "Created after backup")
    assert _name_of(database, org_id) == "Changed after backup"

    migrate.restore(url, target)

    assert _name_of(database, org_id) == "Before backup"
    assert _name_of(database, later_id) is None
    # The restored database is still a working, migrated Kith database.
    assert migrate.current_revision(database) == migrate.head_revision()
    with database.transaction() as session:
        entries = session.execute(select(AuditEntry.entity_id)).scalars().all()
    assert entries == [str(org_id)]
    _add_organization(database, "After restore")


def test_sqlite_backup_and_restore_round_trip(tmp_path: Path) -> None:
    database = Database(make_engine(f"sqlite:///{tmp_path / 'live' / 'kith.db'}"))
    try:
        migrate.upgrade(database)
        # The pool stays open across the backup: the online backup API copies a
        # consistent snapshot while Kith is running.
        _round_trip(database, tmp_path / "backups" / "kith.db")
    finally:
        database.dispose()


def test_sqlite_backup_is_a_standalone_database_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kith.db'}"
    database = Database(make_engine(url))
    try:
        migrate.upgrade(database)
        org_id = _add_organization(database, "In the copy")
        target = migrate.backup(url, tmp_path / "copy.db")
    finally:
        database.dispose()
    copy = Database(make_engine(f"sqlite:///{target}"))
    try:
        assert _name_of(copy, org_id) == "In the copy"
    finally:
        copy.dispose()


def test_sqlite_backup_of_a_missing_database_fails_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "kith.db"
    with pytest.raises(FileNotFoundError):
        migrate.backup(f"sqlite:///{missing}", tmp_path / "backup.db")
    assert not missing.exists()
    assert not (tmp_path / "backup.db").exists()


def test_restore_from_a_missing_file_fails_before_touching_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kith.db'}"
    with pytest.raises(FileNotFoundError):
        migrate.restore(url, tmp_path / "no-such-backup.db")
    assert not (tmp_path / "kith.db").exists()


def test_default_backup_path_names_by_backend(tmp_path: Path) -> None:
    sqlite_path = migrate.default_backup_path("sqlite:///x.db", tmp_path)
    assert sqlite_path.parent == tmp_path
    assert sqlite_path.name.startswith("kith-")
    assert sqlite_path.suffix == ".db"
    assert migrate.default_backup_path("postgresql://u@h/db", tmp_path).suffix == ".dump"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL pass only")
def test_postgresql_backup_and_restore_round_trip(database: Database, tmp_path: Path) -> None:
    assert database.dialect == "postgresql"
    _round_trip(database, tmp_path / "kith.dump")


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL pass only")
def test_postgresql_restore_keeps_the_audit_log_append_only(
    database: Database, tmp_path: Path
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    url = database.engine.url.render_as_string(hide_password=False)
    _add_organization(database, "Audited")
    migrate.restore(url, migrate.backup(url, tmp_path / "kith.dump"))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL pass only")
def test_postgresql_restore_replaces_the_schema_of_a_later_migration(
    database: Database, tmp_path: Path
) -> None:
    """Restoring a backup taken before an upgrade must not leave the newer schema's
    objects behind: `kith migrate` would then fail re-creating them."""
    from sqlalchemy import inspect, text

    url = database.engine.url.render_as_string(hide_password=False)
    org_id = _add_organization(database, "Before upgrade")
    dump = migrate.backup(url, tmp_path / "kith.dump")

    # What a later migration might have added.
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE later_feature (id integer PRIMARY KEY)"))
        connection.execute(
            text("CREATE FUNCTION later_fn() RETURNS integer AS 'SELECT 1' LANGUAGE sql")
        )
        connection.execute(text("CREATE TYPE later_kind AS ENUM ('A', 'B')"))
        connection.execute(text("CREATE VIEW later_view AS SELECT id FROM organizations"))
        connection.execute(text("UPDATE alembic_version SET version_num = 'later'"))

    migrate.restore(url, dump)

    assert "later_feature" not in inspect(database.engine).get_table_names()
    with database.engine.connect() as connection:
        leftovers = connection.execute(
            text(
                "SELECT count(*) FROM pg_proc WHERE proname = 'later_fn'"
                " UNION ALL SELECT count(*) FROM pg_type WHERE typname = 'later_kind'"
                " UNION ALL SELECT count(*) FROM pg_class WHERE relname = 'later_view'"
            )
        ).scalars()
        assert list(leftovers) == [0, 0, 0]
    assert migrate.current_revision(database) == migrate.head_revision()
    assert _name_of(database, org_id) == "Before upgrade"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL pass only")
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_postgresql_restore_of_a_damaged_dump_changes_nothing(
    database: Database, tmp_path: Path, damage: str
) -> None:
    import subprocess

    url = database.engine.url.render_as_string(hide_password=False)
    _add_organization(database, "Stays")
    dump = migrate.backup(url, tmp_path / "kith.dump")
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a dump" * 100)
    later_id = _add_organization(database, "Also stays")

    with pytest.raises(subprocess.CalledProcessError):
        migrate.restore(url, dump)
    assert _name_of(database, later_id) == "Also stays"
    assert migrate.current_revision(database) == migrate.head_revision()
