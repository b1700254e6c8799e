"""The `kith` command line on a private SQLite installation (tests/cli/conftest.py)."""

from __future__ import annotations

import base64
import json
import stat
import uuid

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from kith.app import create_app
from kith.db import migrate as migrations
from kith.db.engine import Database, make_engine
from kith.settings import Settings
from tests.cli.conftest import Installation

PASSWORD = "correct horse battery"


def test_migrate_then_check(installation: Installation) -> None:
    empty = installation.kith("migrate", "--check")
    assert empty.exit_code == 1, empty.output
    assert "pending migrations" in empty.output

    result = installation.kith("migrate")
    assert result.exit_code == 0, result.output
    assert f"→ {migrations.head_revision()}" in result.output
    # A brand-new database has nothing to lose: no backup is taken.
    assert not (installation.data_dir / "backups").exists()

    check = installation.kith("migrate", "--check")
    assert check.exit_code == 0, check.output
    assert "up to date" in check.output

    again = installation.kith("migrate")
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output

    database = Database(make_engine(installation.database_url))
    try:
        assert migrations.current_revision(database) == migrations.head_revision()
    finally:
        database.dispose()


def test_migrate_backs_up_an_existing_sqlite_database_before_upgrading(
    installation: Installation,
) -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    revisions = [r.revision for r in script.walk_revisions()]  # newest first
    if len(revisions) < 2:
        pytest.skip("needs a second migration")
    oldest = revisions[-1]
    database = Database(make_engine(installation.database_url))
    try:
        migrations.upgrade(database, oldest)
    finally:
        database.dispose()

    result = installation.kith("migrate")
    assert result.exit_code == 0, result.output
    (backup,) = (installation.data_dir / "backups").iterdir()
    assert str(backup) in result.output
    # The backup is the database as it was: still at the old revision.
    copy = Database(make_engine(f"sqlite:///{backup}"))
    try:
        assert migrations.current_revision(copy) == oldest
    finally:
        copy.dispose()
    assert installation.kith("migrate", "--check").exit_code == 0


def test_development_secrets_are_generated_privately_on_first_run(
    installation: Installation,
) -> None:
    assert installation.kith("migrate").exit_code == 0
    secrets_file = installation.data_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    first = secrets_file.read_text()
    assert installation.kith("migrate", "--check").exit_code == 0
    assert secrets_file.read_text() == first


def test_production_without_secrets_refuses_to_run(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITH_ENV", "production")
    result = installation.kith("migrate")
    assert result.exit_code == 2
    assert "configuration error" in result.stderr
    assert "KITH_SECRET_KEY" in result.stderr
    assert not installation.database_path.exists()


def test_backup_and_restore_round_trip(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    created = installation.kith(
        "create-admin", "--email", "first@acme.example", "--password", PASSWORD,
        "--organization", "Before backup",
    )  # fmt: skip
    assert created.exit_code == 0, created.output

    target = installation.root / "backups [manual]" / "kith.db"
    backup = installation.kith("backup", "-o", str(target))
    assert backup.exit_code == 0, backup.output
    assert target.exists()
    assert str(target) in backup.output  # printed whole, brackets included

    later = installation.kith(
        "create-admin", "--email", "second@acme.example", "--password", PASSWORD,
        "--organization", "After backup",
    )  # fmt: skip
    assert later.exit_code == 0, later.output
    assert installation.organization_names() == ["After backup", "Before backup"]

    # Without --yes it asks, and "no" changes nothing.
    declined = installation.kith("restore", str(target), input="n\n")
    assert declined.exit_code == 1
    assert installation.organization_names() == ["After backup", "Before backup"]

    restored = installation.kith("restore", "--yes", str(target))
    assert restored.exit_code == 0, restored.output
    assert installation.organization_names() == ["Before backup"]
    check = installation.kith("migrate", "--check")
    assert check.exit_code == 0, check.output


def test_backup_without_a_path_goes_to_the_data_folder(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    result = installation.kith("backup")
    assert result.exit_code == 0, result.output
    (written,) = (installation.data_dir / "backups").iterdir()
    assert written.name.startswith("kith-")
    assert written.suffix == ".db"


def test_backup_of_a_missing_database_fails_without_creating_one(
    installation: Installation,
) -> None:
    result = installation.kith("backup", "-o", str(installation.root / "b.db"))
    assert result.exit_code == 1
    assert "no database to back up" in result.stderr
    assert not installation.database_path.exists()
    assert not (installation.root / "b.db").exists()


def test_restore_from_a_missing_file_fails_clearly(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    result = installation.kith("restore", "--yes", str(installation.root / "nope.db"))
    assert result.exit_code == 1
    assert "no backup file" in result.stderr


def test_demo_if_empty_creates_one_organization_and_repeats_the_login(
    installation: Installation,
) -> None:
    assert installation.kith("migrate").exit_code == 0
    first = installation.kith("demo", "--if-empty", "--people", "30")
    assert first.exit_code == 0, first.output
    (login_line,) = [line for line in first.output.splitlines() if "demo login" in line]
    assert "admin@demo.kith.example / " in login_line
    password = login_line.split(" / ", 1)[1].split()[0]
    login_file = installation.data_dir / "demo-login.txt"
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o600

    second = installation.kith("demo", "--if-empty")
    assert second.exit_code == 0, second.output
    assert second.output.strip() == login_line.strip()
    assert installation.organization_count() == 1
    assert installation.organization_names() == ["Demo Company"]
    _login(installation, "admin@demo.kith.example", password)


def test_demo_data_is_there_to_explore_through_the_api(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    result = installation.kith("demo", "--people", "30")
    assert result.exit_code == 0, result.output
    assert "demo data: 30 contacts" in result.output
    password = result.output.split("admin@demo.kith.example / ", 1)[1].split()[0]
    settings = Settings()
    app = create_app(settings, key_prefix=f"kith-cli-test-{uuid.uuid4().hex}")
    try:
        with TestClient(app) as client:
            login = client.post(
                "/api/v1/auth/login",
                json={"email": "admin@demo.kith.example", "password": password},
            )
            headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
            contacts = client.get("/api/v1/contacts?limit=100", headers=headers).json()
            assert contacts["totalCount"] == 30
            assert all(c["fullName"] for c in contacts["data"])
            assert {c["status"] for c in contacts["data"]} > {"LEAD"}
            assert sum(bool(c["emails"]) for c in contacts["data"]) >= 20
            surname = contacts["data"][0]["lastName"]
            found = client.get(f"/api/v1/contacts/search?q={surname}", headers=headers).json()
            assert contacts["data"][0]["id"] in {c["id"] for c in found["data"]}
            related = client.get("/api/v1/graph/relationships", headers=headers).json()
            assert related["totalCount"] >= 30
    finally:
        app.state.database.dispose()


def test_demo_if_empty_does_nothing_when_an_organization_exists(
    installation: Installation,
) -> None:
    assert installation.kith("migrate").exit_code == 0
    created = installation.kith("create-admin", "--email", "a@acme.example", "--password", PASSWORD)
    assert created.exit_code == 0, created.output
    result = installation.kith("demo", "--if-empty")
    assert result.exit_code == 0, result.output
    assert "exists already" in result.output
    assert installation.organization_count() == 1


def test_create_admin_makes_an_admin_who_can_log_in(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    result = installation.kith(
        "create-admin", "--email", "Boss@Acme.example", "--password", PASSWORD,
        "--name", "The Boss", "--organization", "Acme [EU]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Acme [EU]" in result.output
    assert installation.organization_names() == ["Acme [EU]"]

    me = _login(installation, "boss@acme.example", PASSWORD)
    assert me["role"] == "ADMIN"
    assert me["name"] == "The Boss"
    assert me["email"] == "boss@acme.example"


def test_create_admin_reads_the_password_from_the_environment(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert installation.kith("migrate").exit_code == 0
    monkeypatch.setenv("KITH_ADMIN_PASSWORD", PASSWORD)
    result = installation.kith("create-admin", "--email", "env@acme.example")
    assert result.exit_code == 0, result.output
    _login(installation, "env@acme.example", PASSWORD)


def test_create_admin_with_a_taken_email_fails_clearly(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    args = ("create-admin", "--email", "dup@acme.example", "--password", PASSWORD)
    assert installation.kith(*args).exit_code == 0
    again = installation.kith(*args, "--organization", "Second")
    assert again.exit_code != 0
    assert "dup@acme.example" in again.stderr
    assert "already exists" in again.stderr
    assert installation.organization_count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--email", "not-an-email", "--password", PASSWORD), "email"),
        (("--email", "ok@acme.example", "--password", "short"), "password"),
    ],
)
def test_create_admin_rejects_invalid_input(
    installation: Installation, args: tuple[str, ...], message: str
) -> None:
    assert installation.kith("migrate").exit_code == 0
    result = installation.kith("create-admin", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert installation.organization_count() == 0


def test_keys_generate_prints_a_json_entry_with_a_32_byte_key(installation: Installation) -> None:
    result = installation.kith("keys", "generate")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    ((key_id, value),) = entry.items()
    assert key_id
    assert len(base64.b64decode(value, validate=True)) == 32

    long_id = "k" * 120  # a long id must not be wrapped onto two lines
    named = installation.kith("keys", "generate", "--key-id", long_id)
    assert named.exit_code == 0
    assert list(json.loads(named.stdout)) == [long_id]
    assert json.loads(named.stdout)[long_id] != value

    # What it prints is accepted as KITH_ENCRYPTION_KEYS.
    settings = Settings(env="production", encryption_keys=result.stdout)
    assert settings.resolved_encryption_keys[key_id] == base64.b64decode(value)


def test_keys_generate_refuses_an_id_with_a_colon(installation: Installation) -> None:
    result = installation.kith("keys", "generate", "--key-id", "a:b")
    assert result.exit_code == 2
    assert result.stdout == ""


def test_version(installation: Installation) -> None:
    from kith import __version__

    result = installation.kith("version")
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def _login(installation: Installation, email: str, password: str) -> dict[str, object]:
    """Sign in through the real API, built on the installation's database."""
    settings = Settings()  # from the same environment the CLI used
    assert settings.database_url == installation.database_url
    app = create_app(settings, key_prefix=f"kith-cli-test-{uuid.uuid4().hex}")
    try:
        with TestClient(app) as client:
            login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            token = login.json()["accessToken"]
            me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text
            body: dict[str, object] = me.json()
            return body
    finally:
        app.state.database.dispose()
