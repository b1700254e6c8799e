"""``kith bench generate|search|dedupe``: benchmark data, the contacts and dedupe benchmarks.

The code lives in the ``bench`` package at the root of a Kith checkout (it is not
installed with Kith); these commands import it lazily, from the current directory or
from the checkout this ``kith`` package belongs to."""

from __future__ import annotations

import importlib
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

bench_app = typer.Typer(
    help="Benchmarks: generate realistic data, measure the contacts API (needs a checkout).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _bench(module: str) -> ModuleType:
    """``bench.<module>``, or a clear error when the bench package is not there."""
    checkout = Path(__file__).resolve().parents[2]
    for root in (Path.cwd(), checkout):
        if (root / "bench" / "__init__.py").exists() and str(root) not in sys.path:
            sys.path.append(str(root))
    try:
        return importlib.import_module(f"bench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", f"bench.{module}"):
            raise
        errors.print(
            "[red]The benchmarks are not installed with Kith: run this command from the "
            "root of a Kith source checkout (the folder holding bench/).[/red]"
        )
        raise typer.Exit(2) from exc


@bench_app.command("generate")
def generate(
    contacts: Annotated[int, typer.Option("--contacts", min=1, help="Contacts to generate")],
    organization_id: Annotated[
        uuid.UUID | None,
        typer.Option("--organization-id", help="Organization (default: the only one)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Generator seed (same seed, same data)")] = 20261123,
    owners: Annotated[
        int, typer.Option(min=1, help="Members owning the contacts (SALES_REPs are added)")
    ] = 8,
    blocking_keys: Annotated[
        bool,
        typer.Option(
            "--blocking-keys/--no-blocking-keys",
            help="Fill the duplicate-detection blocking keys (slower)",
        ),
    ] = True,
    rebuild_indexes: Annotated[
        bool,
        typer.Option(
            "--rebuild-indexes/--keep-indexes",
            help="Drop indexes during the load and build them at the end (fast; stop Kith "
            "first), or keep them up to date row by row",
        ),
    ] = True,
    processes: Annotated[
        int | None,
        typer.Option(min=1, help="Processes generating rows (default: one per core)"),
    ] = None,
    throwaway: Annotated[
        bool,
        typer.Option(
            "--throwaway",
            help="The database is a throwaway one: SQLite writes without journal and "
            "fsync during the load (faster; a crash during the load can corrupt it)",
        ),
    ] = False,
) -> None:
    """Generate realistic contacts into the database configured by KITH_*.

    Companies, emails, phones, tags and search documents too, straight into the tables
    (deterministic: the same seed gives the same data)."""
    from sqlalchemy import select

    from kith.auth.models import Organization
    from kith.cli.main import _settings  # at call time: main imports this module
    from kith.db.engine import make_engine

    load = _bench("contacts_load")
    settings = _settings()
    engine = make_engine(settings.database_url, settings)
    try:
        with engine.connect() as connection:
            ids = list(connection.execute(select(Organization.id).limit(2)).scalars())
            if organization_id is not None:
                found = connection.execute(
                    select(Organization.id).where(Organization.id == organization_id)
                ).scalar_one_or_none()
                if found is None:
                    errors.print(f"[red]no organization {organization_id}[/red]")
                    raise typer.Exit(2)
            elif len(ids) != 1:
                errors.print(
                    "[red]several organizations: pass --organization-id[/red]"
                    if ids
                    else "[red]no organization yet: run `kith create-admin` first[/red]"
                )
                raise typer.Exit(2)
            else:
                organization_id = ids[0]
        assert organization_id is not None
        owner_ids = load.ensure_owners(engine, organization_id, owners)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("generating contacts", total=contacts)
            report, _ = load.load_contacts(
                engine,
                organization_id,
                contacts,
                owner_ids=owner_ids,
                seed=seed,
                blocking_keys=blocking_keys,
                rebuild_indexes=rebuild_indexes,
                processes=processes,
                throwaway=throwaway,
                progress=lambda done: progress.update(task, completed=done),
            )
    finally:
        engine.dispose()
    rows = sum(report.rows.values())
    console.print(
        escape(
            f"generated {contacts:,} contacts in organization {organization_id} in "
            f"{report.seconds:,.1f} s: {report.rate:,.0f} contacts/s, {rows:,} rows "
            f"({rows / report.seconds:,.0f} rows/s)"
        )
    )
    console.print(escape(", ".join(f"{t} {n:,}" for t, n in report.rows.items())))
    console.print(escape(f"time: {report.breakdown()}"), style="dim")


@bench_app.command(
    "search",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def search(
    context: typer.Context,
    contacts: Annotated[int, typer.Option(help="Contacts to generate")] = 1_000_000,
    postgres: Annotated[
        str | None, typer.Option(help="PostgreSQL server URL for a throwaway database")
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds measured per operation")] = 10.0,
) -> None:
    """Measure contact search, list, get, create and update at scale (bench/contacts.py).

    A throwaway Kith with N generated contacts, then p50/p95/p99 over HTTP at 1 and 32
    clients; further options are passed on (see `python -m bench.contacts --help`)."""
    benchmark = _bench("contacts")
    argv = ["--contacts", str(contacts), "--duration", str(duration), *context.args]
    if postgres:
        argv += ["--postgres", postgres]
    raise typer.Exit(benchmark.main(argv))


@bench_app.command(
    "dedupe",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def dedupe(
    context: typer.Context,
    persons: Annotated[int, typer.Option(help="Persons in the labelled benchmark")] = 5000,
    scan: Annotated[int, typer.Option(help="Records in the background-scan run (0: skip)")] = (
        1_000_000
    ),
) -> None:
    """Duplicate-detection quality and speed (bench/dedupe.py).

    Precision, recall and F1 over pairs at the default threshold on a labelled benchmark,
    the on-create latency and the background scan of N records (time, memory); further
    options are passed on (see `python -m bench.dedupe --help`)."""
    benchmark = _bench("dedupe")
    argv = ["--persons", str(persons), "--scan", str(scan), *context.args]
    raise typer.Exit(benchmark.main(argv))


@bench_app.command(
    "graph",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def graph(
    context: typer.Context,
    nodes: Annotated[int, typer.Option(help="Contacts in the generated graph")] = 1_000_000,
    edges: Annotated[int, typer.Option(help="Relationships in the generated graph")] = (5_000_000),
) -> None:
    """The relationship-graph engine at scale (bench/graph.py).

    Build time, resident memory, p50/p95/p99 of networks, paths and incremental changes,
    PageRank / betweenness / Leiden times; further options are passed on (see
    `python -m bench.graph --help`)."""
    benchmark = _bench("graph")
    argv = ["--nodes", str(nodes), "--edges", str(edges), *context.args]
    raise typer.Exit(benchmark.main(argv))
