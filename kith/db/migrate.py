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
import tempfile
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
    path = sqlite_path(url)
    if path is not None and not path.exists():
        # sqlite3.connect would create an empty database and "back up" nothing.
        raise FileNotFoundError(path)
    target.parent.mkdir(parents=True, exist_ok=True)
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
    _restore_postgresql(url, source)


# Empties the public schema (tables, views, sequences, routines, types) except what
# extensions own, so a backup taken before an upgrade comes back without the newer
# schema's objects, which would otherwise block the restore (a view on a restored
# table) or the next `kith migrate` (objects that already exist).
_CLEAR_PUBLIC_SCHEMA = """
DO $$
DECLARE
  statements text[];
  statement text;
BEGIN
  statements := ARRAY(
    SELECT format('DROP %s IF EXISTS %I.%I CASCADE',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                 ELSE 'TABLE' END,
                  n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY c.relkind = 'S'
  ) || ARRAY(
    SELECT format('DROP ROUTINE IF EXISTS %I.%I(%s) CASCADE',
                  n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
  ) || ARRAY(
    SELECT format('DROP %s IF EXISTS %I.%I CASCADE',
                  CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_class c ON c.oid = t.typrelid
    WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm', 'c')
      AND (t.typrelid = 0 OR c.relkind = 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')
  );
  FOREACH statement IN ARRAY statements LOOP
    EXECUTE statement;
  END LOOP;
END $$;
"""


def _restore_postgresql(url: str, source: Path) -> None:
    """Replace the schema and data in one transaction: on any error nothing changes."""
    args, extra_env = _pg_args(url)
    env = {**_base_env(), **extra_env}
    with tempfile.TemporaryDirectory(prefix="kith-restore-") as folder:
        # The whole script first: a dump pg_restore cannot read fails here, before
        # the database is touched, and psql never commits half a script.
        script = Path(folder) / "restore.sql"
        subprocess.run(  # noqa: S603
            [_tool("pg_restore"), "--no-owner", f"--file={script}", str(source)],
            check=True,
            env=env,
        )
        subprocess.run(  # noqa: S603
            [
                _tool("psql"),
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--command={_CLEAR_PUBLIC_SCHEMA}",
                f"--file={script}",
                *args,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
        )


def _base_env() -> dict[str, str]:
    return dict(os.environ)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (Debian package: postgresql-client)")
    return path
