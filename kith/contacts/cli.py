"""``kith contacts list|show|search|merge|undo-merge`` for operators.

Commands act inside one organization (``--organization``, or the only one) as
that organization's system principal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.auth.models import Organization
from kith.auth.principal import Principal
from kith.contacts import merge, service
from kith.contacts.filters import ContactFilters
from kith.contacts.schemas import MergeIn
from kith.db.engine import Database
from kith.errors import DomainError
from kith.http.pagination import ListParams
from kith.settings import Settings

contacts_app = typer.Typer(help="Contacts: list, show, search, merge.", no_args_is_help=True)
console = Console()
_load_settings: Callable[[], Settings] = Settings

OrgOption = Annotated[
    uuid.UUID | None, typer.Option("--organization", help="Organization id (default: the only one)")
]


def set_settings_loader(loader: Callable[[], Settings]) -> None:
    global _load_settings
    _load_settings = loader


def _principal(session: Session, organization: uuid.UUID | None) -> Principal:
    if organization is None:
        ids = session.execute(select(Organization.id).limit(2)).scalars().all()
        if len(ids) != 1:
            console.print(
                "[red]several organizations: pass --organization[/red]"
                if ids
                else "[red]no organization yet[/red]"
            )
            raise typer.Exit(2)
        organization = ids[0]
    elif session.get(Organization, organization) is None:
        console.print(f"[red]no organization {organization}[/red]")
        raise typer.Exit(2)
    return Principal.system(organization)


def _database() -> Database:
    return Database.from_settings(_load_settings())


def _table(rows: list[service.ContactDetails]) -> Table:
    table = Table(
        Column("id", no_wrap=True, min_width=36),
        Column("name", no_wrap=True),
        Column("email", no_wrap=True),
        Column("status", no_wrap=True),
        Column("company", overflow="ellipsis"),
    )
    for d in rows:
        c = d.contact
        table.add_row(str(c.id), c.full_name, c.email or "", c.status.value, c.company_name or "")
    return table


def _run(
    action: Callable[[Session, Principal], object],
    organization: uuid.UUID | None,
    *,
    write: bool = False,
) -> object:
    database = _database()
    try:
        with database.transaction(write=write) as session:
            return action(session, _principal(session, organization))
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]", markup=True)
        raise typer.Exit(1) from exc
    finally:
        database.dispose()


@contacts_app.command("list")
def list_contacts(
    organization: OrgOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    status: Annotated[str | None, typer.Option(help="LEAD, PROSPECT, CUSTOMER or INACTIVE")] = None,
    tag: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Contacts by name."""
    from kith.contacts import filters as contact_filters
    from kith.contacts.models import Contact, ContactStatus
    from kith.http.pagination import paginate

    def action(session: Session, principal: Principal) -> object:
        wanted = ContactFilters(
            status=[ContactStatus(status)] if status else [], tags=[tag.casefold()] if tag else []
        )
        stmt = contact_filters.apply(session, service.visible(principal), wanted, [])
        page = paginate(
            session,
            stmt,
            ListParams(1, limit, None, None),
            sort_fields=contact_filters.SORTS,
            default_sort=["name"],
            id_column=Contact.id,
            to_item=lambda c: c,
        )
        console.print(_table(service.details_of(session, page.data)))
        console.print(f"{page.total_count} contacts")
        return None

    _run(action, organization)


@contacts_app.command("show")
def show(contact_id: uuid.UUID, organization: OrgOption = None) -> None:
    """One contact as JSON."""

    def action(session: Session, principal: Principal) -> object:
        details = service.get_details(session, principal, contact_id)
        console.print_json(service.to_out(details).model_dump_json(by_alias=True))
        return None

    _run(action, organization)


@contacts_app.command("search")
def search(
    query: str,
    organization: OrgOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """Full-text search (prefix-matched words), best first."""
    from kith import search as fts
    from kith.contacts import search_index
    from kith.contacts.models import Contact

    def action(session: Session, principal: Principal) -> object:
        matches = fts.search(
            session, organization_id=principal.organization_id, kind=search_index.KIND, query=query
        ).subquery()
        rows = (
            session.execute(
                service.visible(principal)
                .join(matches, matches.c.record_id == Contact.id)
                .order_by(matches.c.rank)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        console.print(_table(service.details_of(session, rows)))
        return None

    _run(action, organization)


def _load_references() -> None:
    """Every domain's records that point at contacts (relationships, …) register with the
    merge when their domain is imported; the API and the worker import them all, and so
    must a merge from the command line, or it would leave those records behind."""
    from kith.task_registry import import_all_tasks

    import_all_tasks()


@contacts_app.command("merge")
def merge_command(
    primary: uuid.UUID,
    duplicates: list[uuid.UUID],
    organization: OrgOption = None,
) -> None:
    """Merge DUPLICATES into PRIMARY (undo with `kith contacts undo-merge`)."""
    _load_references()

    def action(session: Session, principal: Principal) -> object:
        record, details = merge.merge_contacts(
            session, principal, MergeIn(primary_id=primary, duplicate_ids=duplicates)
        )
        console.print(
            json.dumps(
                {
                    "mergeId": str(record.id),
                    "contact": service.to_out(details).model_dump(mode="json", by_alias=True),
                },
                indent=2,
            ),
            markup=False,
        )
        return None

    _run(action, organization, write=True)


@contacts_app.command("undo-merge")
def undo_merge(merge_id: uuid.UUID, organization: OrgOption = None) -> None:
    """Put the merged contacts back exactly as they were."""
    _load_references()

    def action(session: Session, principal: Principal) -> object:
        merge.undo_merge(session, principal, merge_id)
        console.print(f"merge {merge_id} undone")
        return None

    _run(action, organization, write=True)


@contacts_app.command("duplicates")
def duplicates_command(
    organization: OrgOption = None,
    scan: Annotated[bool, typer.Option("--scan", help="Scan all contacts first")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """The duplicate review queue, best first (``--scan`` refreshes it first)."""
    from kith.contacts import duplicates as fuzzy
    from kith.contacts.models import DuplicatePair, DuplicateStatus
    from kith.contacts.tasks import SCAN_JOB
    from kith.jobs import service as jobs
    from kith.jobs.queue import JobQueue
    from kith.task_registry import import_all_tasks

    if scan:
        import_all_tasks()
        settings = _load_settings()
        database = Database.from_settings(settings)
        try:
            with database.transaction() as session:
                job_id = jobs.enqueue(session, _principal(session, organization), SCAN_JOB).id
            console.print(f"scanning (job {job_id}) …")
            state = JobQueue(settings, database).run(job_id)
            console.print(f"scan {state.value if state else 'did not run'}")
        finally:
            database.dispose()

    def action(session: Session, principal: Principal) -> object:
        pairs = (
            session.execute(
                fuzzy.visible_pairs(principal)
                .where(DuplicatePair.status == DuplicateStatus.OPEN)
                .order_by(DuplicatePair.score.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        ids = {i for p in pairs for i in (p.contact_a, p.contact_b)}
        from kith.contacts.models import Contact

        names = dict(
            session.execute(select(Contact.id, Contact.full_name).where(Contact.id.in_(ids))).all()
        )
        table = Table(
            Column("pair", no_wrap=True, min_width=36),
            Column("score", no_wrap=True),
            Column("contacts", overflow="fold"),
            Column("why", overflow="fold"),
        )
        for p in pairs:
            table.add_row(
                str(p.id),
                f"{p.score:.3f}",
                f"{names.get(p.contact_a, '?')} ⇄ {names.get(p.contact_b, '?')}",
                "; ".join(p.reasons),
            )
        console.print(table)
        return None

    _run(action, organization)
