"""Schema migrations (Alembic, programmatic) and backups.

``kith migrate`` backs a SQLite database up before applying pending migrations;
``kith backup``/``kith restore`` work on SQLite (online backup API) and
PostgreSQL (pg_dump / pg_restore custom format).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, make_url

from kith.db.engine import Database, normalize_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending(database: Database) -> bool:
    return current_revision(database) != head_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(str(database.engine.url), connection), revision)


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def default_backup_path(url: str, backup_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = ".db" if sqlite_path(url) else ".dump"
    return backup_dir / f"kith-{stamp}{suffix}"


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(normalize_url(url))
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    if parsed.username:
        args += ["-U", parsed.username]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return [*args, "-d", parsed.database or "postgres"], env


def backup(url: str, target: Path) -> Path:
    """Write a consistent copy of the database to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    path = sqlite_path(url)
    if path is not None:
        source = sqlite3.connect(path)
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
        return target
    args, env = _pg_args(url)
    # Argument list (no shell) built from the operator's own settings.
    subprocess.run(  # noqa: S603
        [_tool("pg_dump"), "--format=custom", "--no-owner", "-f", str(target), *args],
        check=True,
        env={**_base_env(), **env},
    )
    return target


def restore(url: str, source: Path) -> None:
    """Replace the database's content with a backup made by :func:`backup`."""
    if not source.exists():
        raise FileNotFoundError(source)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(source)
        dest = sqlite3.connect(path)
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
        return
    args, env = _pg_args(url)
    subprocess.run(  # noqa: S603
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *args,
            str(source),
        ],
        check=True,
        env={**_base_env(), **env},
    )


def _base_env() -> dict[str, str]:
    return dict(os.environ)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (Debian package: postgresql-client)")
    return path
