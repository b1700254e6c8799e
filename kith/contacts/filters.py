"""List filters of contacts: the query-string grammar mapped to SQL through an
allow-list (ARCHITECTURE.md §6) — never a user string into SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Query, Request
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from kith.contacts.custom_fields import FieldDefinition, FieldType, filter_value
from kith.contacts.models import Contact, ContactStatus, ContactTag
from kith.errors import ValidationFailed

SORTS: dict[str, Any] = {
    "name": Contact.sort_name,
    "createdAt": Contact.created_at,
    "updatedAt": Contact.updated_at,
    "leadScore": Contact.lead_score,
    "lastContactDate": Contact.last_contact_date,
}
DEFAULT_SORT = ["name"]
CUSTOM_PREFIX = "cf."


@dataclass
class ContactFilters:
    search: str | None = None
    status: list[ContactStatus] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owner_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    lead_score_min: int | None = None
    lead_score_max: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    custom: dict[str, str] = field(default_factory=dict)


async def contact_filters(
    request: Request,
    search: str | None = Query(None, max_length=200, description="Full-text, prefix-matched"),
    status: list[ContactStatus] = Query(default_factory=list),
    tag: list[str] = Query(default_factory=list, description="Repeat for several (all must match)"),
    owner_id: uuid.UUID | None = Query(None, alias="ownerId"),
    company_id: uuid.UUID | None = Query(None, alias="companyId"),
    lead_score_min: int | None = Query(None, alias="leadScoreMin", ge=0, le=100),
    lead_score_max: int | None = Query(None, alias="leadScoreMax", ge=0, le=100),
    created_after: datetime | None = Query(None, alias="createdAfter"),
    created_before: datetime | None = Query(None, alias="createdBefore"),
    updated_after: datetime | None = Query(None, alias="updatedAfter"),
    updated_before: datetime | None = Query(None, alias="updatedBefore"),
) -> ContactFilters:
    """Also ``cf.<key>=<value>`` for each filterable custom field."""
    custom = {
        key[len(CUSTOM_PREFIX) :]: value
        for key, value in request.query_params.items()
        if key.startswith(CUSTOM_PREFIX)
    }
    return ContactFilters(
        search=search or None,
        status=status,
        tags=[t.strip().casefold() for t in tag if t.strip()],
        owner_id=owner_id,
        company_id=company_id,
        lead_score_min=lead_score_min,
        lead_score_max=lead_score_max,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
        custom=custom,
    )


def apply(
    session: Session,
    stmt: Select[Any],
    filters: ContactFilters,
    definitions: list[FieldDefinition],
) -> Select[Any]:
    if filters.status:
        stmt = stmt.where(Contact.status.in_(filters.status))
    for tag in filters.tags:
        stmt = stmt.where(
            exists().where(
                ContactTag.organization_id == Contact.organization_id,
                ContactTag.contact_id == Contact.id,
                ContactTag.tag == tag,
            )
        )
    if filters.owner_id:
        stmt = stmt.where(Contact.owner_id == filters.owner_id)
    if filters.company_id:
        stmt = stmt.where(Contact.company_id == filters.company_id)
    if filters.lead_score_min is not None:
        stmt = stmt.where(Contact.lead_score >= filters.lead_score_min)
    if filters.lead_score_max is not None:
        stmt = stmt.where(Contact.lead_score <= filters.lead_score_max)
    for column, bound, op in (
        (Contact.created_at, filters.created_after, "gt"),
        (Contact.created_at, filters.created_before, "lt"),
        (Contact.updated_at, filters.updated_after, "gt"),
        (Contact.updated_at, filters.updated_before, "lt"),
    ):
        if bound is not None:
            stmt = stmt.where(column >= bound if op == "gt" else column < bound)
    if filters.custom:
        by_key = {d.key: d for d in definitions}
        dialect = session.get_bind().dialect.name
        for key, raw in filters.custom.items():
            definition = by_key.get(key)
            if definition is None or definition.sensitive:
                raise ValidationFailed.field(f"cf.{key}", "Not a filterable custom field.")
            stmt = stmt.where(_custom_condition(definition, raw, dialect))
    return stmt


def _custom_condition(definition: FieldDefinition, raw: str, dialect: str) -> Any:
    try:
        value = filter_value(definition, raw)
    except ValueError as exc:
        raise ValidationFailed.field(f"cf.{definition.key}", str(exc)) from exc
    element = Contact.custom_fields[definition.key]
    if definition.type is FieldType.MULTI_SELECT:
        if dialect == "postgresql":
            return element.contains([value])
        each = func.json_each(Contact.custom_fields, f"$.{definition.key}").table_valued("value")
        return exists(select(1).select_from(each).where(each.c.value == value))
    if definition.type is FieldType.NUMBER:
        return element.as_float() == float(value)
    if definition.type is FieldType.BOOLEAN:
        return element.as_boolean() == bool(value)
    return and_(element.as_string() == str(value))
