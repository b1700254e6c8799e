"""``kith``: serve, migrate, back up and restore, create admins, manage keys."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select

from kith.cli.bench import bench_app
from kith.settings import Settings, SettingsError

app = typer.Typer(help="Kith, a relationship-first CRM.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
# soft_wrap: never break a login, a path or a key across lines (they get copied).
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


def _invalid(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.validate_for_startup()
    except SettingsError as exc:
        raise _fail(f"configuration error: {exc}", 2) from exc
    from kith.app import configure_crypto

    configure_crypto(settings)
    return settings


def _auth_context(settings: Settings):  # type: ignore[no-untyped-def]
    from kith.auth.service import AuthContext
    from kith.auth.tokens import Passwords
    from kith.http.ratelimit import LoginThrottle

    return AuthContext(settings, Passwords(settings), LoginThrottle(settings))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run jobs, schedules and event delivery in this process (default), or "
            "leave them to separate `kith worker` processes",
        ),
    ] = True,
) -> None:
    """Serve the API, with an embedded worker unless --no-worker."""
    import uvicorn

    settings = _settings()
    # The app factory reads settings from the environment in each server process.
    os.environ["KITH_EMBEDDED_WORKER"] = "true" if worker and settings.embedded_worker else "false"
    if worker and workers > 1:
        console.print(
            "note: each of the server processes runs its own worker threads; for a scaled "
            "deployment use --no-worker and separate `kith worker` processes"
        )
    uvicorn.run(
        "kith.app:create_app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        access_log=False,
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )


@app.command()
def migrate(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if migrations are pending")
    ] = False,
    backup_first: Annotated[
        bool, typer.Option("--backup/--no-backup", help="Back up SQLite before migrating")
    ] = True,
) -> None:
    """Bring the database schema up to date (SQLite is backed up first)."""
    from kith.db import migrate as migrations
    from kith.db.engine import Database

    settings = _settings()
    database = Database.from_settings(settings)
    try:
        current, head = migrations.current_revision(database), migrations.head_revision()
        if check:
            if current != head:
                console.print(f"pending migrations: database at {current}, code at {head}")
                raise typer.Exit(1)
            console.print(f"up to date ({head})")
            return
        if current == head:
            console.print(f"database is up to date ({head})")
            return
        path = migrations.sqlite_path(settings.database_url)
        if backup_first and current is not None and path is not None and path.exists():
            target = migrations.default_backup_path(
                settings.database_url, settings.data_dir / "backups"
            )
            migrations.backup(settings.database_url, target)
            console.print(f"backed up to {escape(str(target))}")
        migrations.upgrade(database)
        console.print(f"migrated {current or 'empty database'} → {head}")
    finally:
        database.dispose()


@app.command()
def backup(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Backup file")] = None,
) -> None:
    """Write a consistent backup (SQLite file copy or pg_dump custom format)."""
    from kith.db import migrate as migrations

    settings = _settings()
    target = output or migrations.default_backup_path(
        settings.database_url, settings.data_dir / "backups"
    )
    try:
        migrations.backup(settings.database_url, target)
    except FileNotFoundError as exc:
        raise _fail(f"no database to back up at {exc}", 1) from exc
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        raise _fail(f"backup failed: {exc}", 1) from exc
    console.print(f"backup written to {escape(str(target))}")


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A file written by `kith backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Replace the database's content with a backup. Stop Kith first."""
    from kith.db import migrate as migrations

    settings = _settings()
    if not yes:
        typer.confirm(f"Replace the contents of the database with {source}?", abort=True)
    try:
        migrations.restore(settings.database_url, source)
    except FileNotFoundError as exc:
        raise _fail(f"no backup file at {exc}", 1) from exc
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        raise _fail(f"restore failed: {exc}", 1) from exc
    console.print(f"restored from {escape(str(source))}")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Admin email")],
    name: Annotated[str, typer.Option(help="Admin name")] = "Admin",
    organization: Annotated[str, typer.Option(help="New organization's name")] = "My company",
    password: Annotated[
        str | None,
        typer.Option(help="Password (prompted when omitted)", envvar="KITH_ADMIN_PASSWORD"),
    ] = None,
) -> None:
    """Create an organization with an ADMIN user."""
    from kith.auth.schemas import SignupIn
    from kith.auth.service import create_organization
    from kith.db.engine import Database
    from kith.errors import DomainError

    settings = _settings()
    password = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = SignupIn(organization_name=organization, email=email, password=password, name=name)
    except ValidationError as exc:
        raise _fail(_invalid(exc), 2) from exc
    database = Database.from_settings(settings)
    try:
        with database.transaction(write=True) as session:
            org, user, _ = create_organization(
                session,
                _auth_context(settings),
                organization_name=data.organization_name,
                email=data.email,
                name=data.name,
                password=data.password,
            )
        console.print(escape(f"created organization {org.name} ({org.id}) with admin {user.email}"))
    except DomainError as exc:
        raise _fail(f"{data.email}: {exc.message}", 1) from exc
    finally:
        database.dispose()


@app.command()
def demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Only when no organization exists yet")
    ] = False,
    people: Annotated[int, typer.Option(help="Demo contacts to create (0: none)")] = 200,
) -> None:
    """Create the demo organization and admin with demo contacts, and print the login."""
    from rich.progress import Progress

    from kith.auth.models import Organization
    from kith.auth.principal import Principal
    from kith.auth.roles import Role
    from kith.auth.service import create_organization
    from kith.cli.demo_data import seed_demo
    from kith.db.engine import Database

    settings = _settings()
    database = Database.from_settings(settings)
    login_file = settings.data_dir / "demo-login.txt"
    try:
        with database.transaction(write=True) as session:
            count = session.execute(select(func.count()).select_from(Organization)).scalar_one()
            if if_empty and count:
                if login_file.exists():
                    console.print(escape(login_file.read_text().strip()))
                else:
                    console.print("an organization exists already; no demo created")
                return
            email = "admin@demo.kith.example"
            password = secrets.token_urlsafe(12)
            organization, user, _ = create_organization(
                session,
                _auth_context(settings),
                organization_name="Demo Company",
                email=email,
                name="Demo Admin",
                password=password,
            )
            session.flush()
            admin = Principal(organization_id=organization.id, user_id=user.id, role=Role.ADMIN)
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("demo contacts", total=people)
                summary = seed_demo(
                    session,
                    admin,
                    region=organization.default_region,
                    people=people,
                    on_progress=lambda done, _total: progress.update(task, completed=done),
                )
            skipped = f" ({summary.skipped} generated records refused)" if summary.skipped else ""
            console.print(
                f"demo data: {summary.contacts} contacts, "
                f"{summary.relationships} relationships{skipped}"
            )
        url = f"http://{settings.host}:{settings.port}"
        text = f"Kith demo login: {email} / {password}  ({url})"
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(login_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        console.print(f"[bold green]{escape(text)}[/bold green]")
    finally:
        database.dispose()


@keys_app.command("generate")
def keys_generate(
    key_id: Annotated[str, typer.Option(help="Id stored with every value it encrypts")] = "",
) -> None:
    """Print a new AES-256 key as a KITH_ENCRYPTION_KEYS entry (append it: the last key
    encrypts, older ones still decrypt)."""
    from kith.crypto import generate_key

    kid = key_id or "k" + secrets.token_hex(3)
    if ":" in kid:
        raise _fail("a key id cannot contain ':'", 2)
    # Plain stdout: the line is meant for scripts and for pasting into the environment.
    typer.echo(json.dumps({kid: generate_key()}))


@app.command()
def version() -> None:
    from kith import __version__

    console.print(__version__)


def _register_jobs_cli() -> None:
    from kith.jobs import cli as jobs_cli

    jobs_cli.set_settings_loader(_settings)
    app.command("worker")(jobs_cli.worker)
    app.command("schedule")(jobs_cli.schedule)
    app.add_typer(jobs_cli.jobs_app, name="jobs")


_register_jobs_cli()


def _register_contacts_cli() -> None:
    from kith.contacts import cli as contacts_cli

    contacts_cli.set_settings_loader(_settings)
    app.add_typer(contacts_cli.contacts_app, name="contacts")


_register_contacts_cli()


if __name__ == "__main__":
    app()
