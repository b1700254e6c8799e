"""A private Kith installation for CLI tests: its own data folder and SQLite file,
configured only through KITH_* environment variables, as an operator would."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from kith import crypto
from kith.auth.models import Organization
from kith.cli.main import app
from kith.db.engine import Database, make_engine


@dataclass
class Installation:
    root: Path
    data_dir: Path
    database_url: str
    env: dict[str, str]
    runner: CliRunner

    @property
    def database_path(self) -> Path:
        return self.data_dir / "k.db"

    def kith(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)

    def organization_names(self) -> list[str]:
        database = Database(make_engine(self.database_url))
        try:
            with database.transaction() as session:
                names = session.execute(select(Organization.name).order_by(Organization.name))
                return list(names.scalars())
        finally:
            database.dispose()

    def organization_count(self) -> int:
        database = Database(make_engine(self.database_url))
        try:
            with database.transaction() as session:
                count = select(func.count()).select_from(Organization)
                return session.execute(count).scalar_one()
        finally:
            database.dispose()


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    for name in list(os.environ):
        if name.startswith("KITH_") or name in {"FORCE_COLOR", "COLUMNS"}:
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    env = {
        "KITH_DATA_DIR": str(data_dir),
        "KITH_DATABASE_URL": f"sqlite:///{data_dir / 'k.db'}",
        # Fast password hashing and quiet logs; everything else is the default.
        "KITH_PASSWORD_HASH_TIME_COST": "1",
        "KITH_PASSWORD_HASH_MEMORY_KIB": "64",
        "KITH_LOG_LEVEL": "WARNING",
        "NO_COLOR": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    # The CLI installs its own process-wide keyring; give the suite's back afterwards.
    try:
        previous: crypto.Keyring | None = crypto.keyring()
    except RuntimeError:
        previous = None
    try:
        yield Installation(tmp_path, data_dir, env["KITH_DATABASE_URL"], env, CliRunner())
    finally:
        if previous is not None:
            crypto.configure(previous)
