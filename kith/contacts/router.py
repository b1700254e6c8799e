"""HTTP routes of contacts (ARCHITECTURE.md §3). Static paths come before
``/contacts/{contact_id}``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import delete, func, select
from starlette.concurrency import run_in_threadpool

from kith import search
from kith.audit import service as audit
from kith.auth.dependencies import CurrentPrincipal
from kith.auth.roles import Permission
from kith.auth.service import organization_of
from kith.contacts import duplicates, merge, search_index, service, tasks
from kith.contacts import filters as contact_filters
from kith.contacts.custom_fields import validate_definition
from kith.contacts.filters import ContactFilters
from kith.contacts.models import (
    Contact,
    ContactMerge,
    CustomFieldDefinitionRow,
    DuplicatePair,
    DuplicateStatus,
)
from kith.contacts.normalize import NormalizationError, to_validation_error
from kith.contacts.schemas import (
    ContactIn,
    ContactOut,
    ContactPatch,
    CustomFieldIn,
    CustomFieldOut,
    DuplicatePairOut,
    MergeIn,
    MergeOut,
    ScanStarted,
    SearchHit,
    TimelineItem,
)
from kith.contacts.timeline import count as timeline_count
from kith.contacts.timeline import timeline
from kith.db.session import DbSession
from kith.errors import Conflict, NotFound, ValidationFailed
from kith.http.etag import VersionedRoute
from kith.http.pagination import (
    ListParams,
    Page,
    PageInfo,
    decode_cursor,
    encode_cursor,
    list_params,
    paginate,
)
from kith.http.wire import ModelResponse
from kith.jobs import service as jobs

router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=VersionedRoute)
Params = Depends(list_params)
Filters = Depends(contact_filters.contact_filters)
# Lists count matches up to this many (then totalCount is 200 and totalCountCapped
# true): an exact count of a large filtered list reads every match, on every page.
COUNT_CAP = 200


def _region(session: DbSession, principal: CurrentPrincipal) -> str:
    return organization_of(session, principal).default_region


def _page(
    session: DbSession,
    principal: CurrentPrincipal,
    params: ListParams,
    filters: ContactFilters,
    *,
    deleted: bool = False,
    with_highlights: bool = False,
) -> ModelResponse:
    definitions = service.field_definitions(session, principal.organization_id)
    stmt = contact_filters.apply(
        session, service.visible(principal, deleted=deleted), filters, definitions
    )
    sorts = dict(contact_filters.SORTS)
    default = contact_filters.DEFAULT_SORT
    if filters.search:
        matches = search.search(
            session,
            organization_id=principal.organization_id,
            kind=search_index.KIND,
            query=filters.search,
        ).subquery()
        stmt = stmt.join(matches, matches.c.record_id == Contact.id)
        sorts["relevance"] = matches.c.rank
        default = ["relevance"]
    page = paginate(
        session,
        stmt,
        params,
        sort_fields=sorts,
        default_sort=default,
        id_column=Contact.id,
        to_item=lambda c: c,
        count_cap=COUNT_CAP,
        # Live lists: deleted_at is NULL throughout, and the name indexes hold it.
        pinned=None if deleted else {"name": [Contact.deleted_at]},
        # Not with search: loading the rows would run the full-text match again.
        keys_first=not filters.search,
    )
    details = service.details_of(session, page.data)
    envelope = {
        "pagination": page.pagination,
        "total_count": page.total_count,
        "total_count_capped": page.total_count_capped,
    }
    if not with_highlights:
        return ModelResponse(
            Page[ContactOut](data=[service.to_out(d) for d in details], **envelope)
        )
    marks = {}
    if filters.search and details:
        marks = search.highlights(
            session,
            organization_id=principal.organization_id,
            kind=search_index.KIND,
            query=filters.search,
            record_ids=[d.contact.id for d in details],
        )
    hits = [
        service.to_out(d, model=SearchHit, highlights=marks.get(d.contact.id, {})) for d in details
    ]
    return ModelResponse(Page[SearchHit](data=hits, **envelope))


@router.get("", response_model=Page[ContactOut])
async def list_contacts(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    filters: ContactFilters = Filters,
) -> Response:
    """Contacts the caller may see, filtered (``status``, ``tag``, ``ownerId``,
    ``companyId``, ``leadScoreMin``/``Max``, ``createdAfter``/``Before``,
    ``updatedAfter``/``Before``, ``cf.<key>``, ``search``) and sorted (``name``,
    ``createdAt``, ``updatedAt``, ``leadScore``, ``lastContactDate``). ``totalCount``
    is exact up to 200; past that it is 200 and ``totalCountCapped`` is true. Pages
    reached by ``nextCursor`` repeat the first page's count instead of counting again."""
    if filters != ContactFilters():
        # A search or a filter may have the database read many rows: in a worker thread,
        # other requests go on meanwhile (docs/decisions/0002-reads-on-the-event-loop.md).
        return await run_in_threadpool(_page, session, principal, params, filters)
    return _page(session, principal, params, filters)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContactOut,
    responses={200: {"model": ContactOut, "description": "merged into an existing contact"}},
)
def create_contact(
    data: ContactIn,
    principal: CurrentPrincipal,
    session: DbSession,
    on_duplicate: Literal["reject", "merge", "create"] = Query("reject", alias="onDuplicate"),
) -> Response:
    """Create a contact. An email or phone that a contact already has is a 409
    ``DUPLICATE_CONTACT`` (``details.existingId`` when you may see it), unless
    ``onDuplicate=merge`` (added to that contact, 200) or ``create``."""
    details, created = service.create_contact(
        session, principal, data, region=_region(session, principal), on_duplicate=on_duplicate
    )
    return ModelResponse(
        service.to_out(details),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@router.get("/search", response_model=Page[SearchHit])
async def search_contacts(
    principal: CurrentPrincipal,
    session: DbSession,
    q: str = Query(min_length=1, max_length=200, description="Words; each is prefix-matched"),
    params: ListParams = Params,
    filters: ContactFilters = Filters,
) -> Response:
    """Full-text search with ranking and ``<mark>`` highlights, plus every list filter."""
    filters.search = q
    return await run_in_threadpool(_page, session, principal, params, filters, with_highlights=True)


@router.get("/deleted", response_model=Page[ContactOut])
async def list_deleted(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    filters: ContactFilters = Filters,
) -> Response:
    """Deleted contacts that can still be restored (30 days)."""
    return _page(session, principal, params, filters, deleted=True)


@router.get("/custom-fields", response_model=list[CustomFieldOut])
async def list_custom_fields(
    principal: CurrentPrincipal, session: DbSession
) -> list[CustomFieldOut]:
    return [
        CustomFieldOut(
            key=d.key,
            label=d.label,
            type=d.type.value,
            options=list(d.options),
            required=d.required,
            sensitive=d.sensitive,
        )
        for d in service.field_definitions(session, principal.organization_id)
    ]


@router.post("/custom-fields", status_code=status.HTTP_201_CREATED, response_model=CustomFieldOut)
def create_custom_field(
    data: CustomFieldIn, principal: CurrentPrincipal, session: DbSession
) -> CustomFieldOut:
    """Define a custom field for every contact of the organization (ADMIN)."""
    principal.require(Permission.MANAGE_SETTINGS)
    try:
        definition = validate_definition(
            data.key,
            data.label,
            data.type,
            data.options,
            required=data.required,
            sensitive=data.sensitive,
        )
    except NormalizationError as exc:
        raise to_validation_error([exc]) from exc
    if session.get(CustomFieldDefinitionRow, (principal.organization_id, data.key)):
        raise Conflict(f"A custom field {data.key!r} already exists.")
    count = session.execute(
        select(func.count())
        .select_from(CustomFieldDefinitionRow)
        .where(CustomFieldDefinitionRow.organization_id == principal.organization_id)
    ).scalar_one()
    session.add(
        CustomFieldDefinitionRow(
            organization_id=principal.organization_id,
            key=definition.key,
            label=definition.label,
            type=definition.type.value,
            options=list(definition.options),
            required=definition.required,
            sensitive=definition.sensitive,
            position=int(count),
        )
    )
    audit.record(
        session,
        principal,
        action="custom_field.created",
        entity_type="custom_field",
        entity_id=data.key,
        after=data.model_dump(),
    )
    return CustomFieldOut(
        key=definition.key,
        label=definition.label,
        type=definition.type.value,
        options=list(definition.options),
        required=definition.required,
        sensitive=definition.sensitive,
    )


@router.delete("/custom-fields/{field_key}", status_code=status.HTTP_204_NO_CONTENT)
def delete_custom_field(
    field_key: str, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Remove a definition (values stay on contacts until they are next saved)."""
    principal.require(Permission.MANAGE_SETTINGS)
    row = session.get(CustomFieldDefinitionRow, (principal.organization_id, field_key))
    if row is None:
        raise NotFound("Custom field not found.")
    session.execute(
        delete(CustomFieldDefinitionRow).where(
            CustomFieldDefinitionRow.organization_id == principal.organization_id,
            CustomFieldDefinitionRow.key == field_key,
        )
    )
    audit.record(
        session,
        principal,
        action="custom_field.deleted",
        entity_type="custom_field",
        entity_id=field_key,
        before={"label": row.label, "type": row.type},
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _pair_out(pair: DuplicatePair) -> DuplicatePairOut:
    return DuplicatePairOut(
        id=pair.id,
        contact_ids=[pair.contact_a, pair.contact_b],
        score=pair.score,
        reasons=list(pair.reasons),
        status=pair.status,
        created_at=pair.created_at,
    )


@router.get("/duplicates", response_model=Page[DuplicatePairOut])
async def list_duplicates(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    status_filter: DuplicateStatus = Query(DuplicateStatus.OPEN, alias="status"),
) -> Page[DuplicatePairOut]:
    """The review queue, best first: pairs of contacts you may both see, with the
    match probability and per-field reasons."""
    stmt = duplicates.visible_pairs(principal).where(DuplicatePair.status == status_filter)
    return paginate(
        session,
        stmt,
        params,
        sort_fields={"score": DuplicatePair.score, "createdAt": DuplicatePair.created_at},
        default_sort=["-score"],
        id_column=DuplicatePair.id,
        to_item=_pair_out,
    )


@router.post("/duplicates/scan", status_code=status.HTTP_202_ACCEPTED, response_model=ScanStarted)
def scan_duplicates(principal: CurrentPrincipal, session: DbSession) -> ScanStarted:
    """Scan every contact for duplicates now (also runs nightly); follow the job."""
    principal.require(Permission.EDIT)
    job = jobs.enqueue(session, principal, tasks.SCAN_JOB)
    return ScanStarted(job_id=job.id)


@router.post("/duplicates/{pair_id}/dismiss", response_model=DuplicatePairOut)
def dismiss_duplicate(
    pair_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> DuplicatePairOut:
    """Not a duplicate: the pair is never proposed again."""
    return _pair_out(duplicates.dismiss(session, principal, pair_id))


@router.post("/duplicates/{pair_id}/merge", response_model=MergeOut)
def merge_duplicate(
    pair_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    primary_id: uuid.UUID | None = Query(
        None, alias="primaryId", description="Which of the two to keep (default: the older)"
    ),
) -> MergeOut:
    """Merge a pair straight from the queue."""
    pair = duplicates.get_pair(session, principal, pair_id)
    if pair.status is not DuplicateStatus.OPEN:
        raise Conflict(f"This pair is already {pair.status.value}.", code="PAIR_RESOLVED")
    ids = [pair.contact_a, pair.contact_b]
    if primary_id is None:
        created = dict(
            session.execute(
                select(Contact.id, Contact.created_at).where(
                    Contact.organization_id == principal.organization_id, Contact.id.in_(ids)
                )
            ).all()
        )
        primary_id = min(ids, key=lambda i: (created[i], str(i)))
    if primary_id not in ids:
        raise ValidationFailed.field("primaryId", "Not one of the pair.")
    duplicate = ids[1] if primary_id == ids[0] else ids[0]
    record, _ = merge.merge_contacts(
        session, principal, MergeIn(primary_id=primary_id, duplicate_ids=[duplicate])
    )
    return _merge_out(session, principal, record)


def _merge_out(session: DbSession, principal: CurrentPrincipal, record: ContactMerge) -> MergeOut:
    details = service.get_details(session, principal, record.primary_id)
    return MergeOut(
        id=record.id,
        primary_id=record.primary_id,
        duplicate_ids=[uuid.UUID(i) for i in record.duplicate_ids],
        contact=service.to_out(details),
        moved={name: len(rows) for name, rows in (record.moved or {}).items()},
        created_at=record.created_at,
        undone_at=record.undone_at,
    )


@router.post("/merge", response_model=MergeOut)
def merge_contacts(data: MergeIn, principal: CurrentPrincipal, session: DbSession) -> MergeOut:
    """Merge duplicates into the primary: emails, phones, tags and custom fields are
    united, empty fields filled (``fieldChoices`` picks a value explicitly), every
    linked record moved. Undo with ``POST /contacts/merges/{id}/undo``."""
    record, _ = merge.merge_contacts(session, principal, data)
    return _merge_out(session, principal, record)


@router.get("/merges/{merge_id}", response_model=MergeOut)
async def get_merge(
    merge_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> MergeOut:
    return _merge_out(session, principal, merge.get_merge(session, principal, merge_id))


@router.post("/merges/{merge_id}/undo", response_model=MergeOut)
def undo_merge(merge_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> MergeOut:
    """Put every merged contact and moved record back exactly as before the merge."""
    return _merge_out(session, principal, merge.undo_merge(session, principal, merge_id))


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(
    contact_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    details = service.get_details(session, principal, contact_id)
    details.possible_duplicates = duplicates.open_pairs_for(session, principal, contact_id)
    return ModelResponse(service.to_out(details))


@router.patch("/{contact_id}", response_model=ContactOut)
def update_contact(
    contact_id: uuid.UUID, data: ContactPatch, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Change the fields sent (send ``If-Match`` to refuse overwriting a newer version)."""
    details = service.update_contact(
        session, principal, contact_id, data, region=_region(session, principal)
    )
    return ModelResponse(service.to_out(details))


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_contact(
    contact_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Move to the trash: restorable for 30 days (``POST /contacts/{id}/restore``)."""
    service.delete_contact(session, principal, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{contact_id}/restore", response_model=ContactOut)
def restore_contact(
    contact_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ContactOut:
    return service.to_out(service.restore_contact(session, principal, contact_id))


TIMELINE_CURSOR = "timeline"


@router.get("/{contact_id}/timeline", response_model=Page[TimelineItem])
async def contact_timeline(
    contact_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(None, description="`nextCursor` of the previous page"),
    before: datetime | None = Query(None, description="Only items strictly older than this"),
) -> Page[TimelineItem]:
    """Everything that happened to the contact, newest first: field and status
    changes, merges (and, as they arrive, interactions, deals and notes). Page with
    `cursor`; `before` starts the list at a point in time."""
    details = service.get_details(session, principal, contact_id)
    start: tuple[datetime, str] | None = None
    if cursor is not None:
        at, item_id = decode_cursor(cursor, TIMELINE_CURSOR, 2)
        if not isinstance(at, datetime) or not isinstance(item_id, str):
            raise ValidationFailed.field("cursor", "The cursor is invalid or expired.")
        start = (at, item_id)
    elif before is not None:
        start = (before, "")  # "" sorts below every id: nothing of that instant
    items, has_more = timeline(session, principal, [details.contact.id], before=start, limit=limit)
    next_cursor = (
        encode_cursor([items[-1].occurred_at, items[-1].id], TIMELINE_CURSOR)
        if has_more and items
        else None
    )
    return Page[TimelineItem](
        data=[TimelineItem(**item.__dict__) for item in items],
        pagination=PageInfo(page=1, limit=limit, has_next=has_more, next_cursor=next_cursor),
        total_count=timeline_count(session, principal, [details.contact.id]),
    )
